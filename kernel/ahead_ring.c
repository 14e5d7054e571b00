// SPDX-License-Identifier: GPL-2.0
/*
 * The ring of glock pairs requested ahead of use, shared by creating ahead and looking
 * up ahead (ahead_ring.h).
 */
#include <linux/debugfs.h>
#include <linux/kernel.h>
#include <linux/string.h>

#include "ahead_ring.h"
#include "glock.h"

static void cfs_ahead_ring_put_work(struct work_struct *work)
{
	struct cfs_ahead_ring *ring = container_of(work, struct cfs_ahead_ring, put_work);

	for (;;) {
		struct cfs_ahead_slot slot;

		spin_lock(&ring->lock);
		if (!ring->ndropped) {
			spin_unlock(&ring->lock);
			return;
		}
		slot = ring->dropped[--ring->ndropped];
		spin_unlock(&ring->lock);
		ring->release(ring, &slot);
	}
}

void cfs_ahead_ring_init(struct cfs_ahead_ring *ring, unsigned int size, cfs_ahead_release_t release)
{
	memset(ring, 0, sizeof(*ring));
	ring->size = min_t(unsigned int, size, CFS_AHEAD_RING_MAX);
	ring->release = release;
	spin_lock_init(&ring->lock);
	INIT_WORK(&ring->put_work, cfs_ahead_ring_put_work);
}

void cfs_ahead_ring_debugfs(struct cfs_ahead_ring *ring, struct dentry *dir, const char *prefix)
{
	char name[48];

	if (IS_ERR_OR_NULL(dir))
		return;
	snprintf(name, sizeof(name), "%s_requested", prefix);
	debugfs_create_u64(name, 0400, dir, &ring->requested);
	snprintf(name, sizeof(name), "%s_used", prefix);
	debugfs_create_u64(name, 0400, dir, &ring->used);
	snprintf(name, sizeof(name), "%s_dropped", prefix);
	debugfs_create_u64(name, 0400, dir, &ring->dropped_count);
}

void cfs_ahead_slot_put(struct cfs_ahead_ring *ring, struct cfs_ahead_slot *slot)
{
	if (slot->inode_gl)
		cfs_glock_put(slot->inode_gl);
	if (slot->iopen_gl)
		cfs_glock_put(slot->iopen_gl);
}

bool cfs_ahead_ring_busy_locked(struct cfs_ahead_ring *ring, u64 number)
{
	unsigned int i;

	if (ring->ndropped >= ring->size)
		return true;
	for (i = 0; i < ring->size; i++)
		if (ring->slots[i].number == number)
			return true;
	return false;
}

bool cfs_ahead_ring_add(struct cfs_ahead_ring *ring, struct cfs_ahead_slot *fresh, bool *replaced)
{
	struct cfs_ahead_slot *slot;

	unsigned int i;

	*replaced = false;
	spin_lock(&ring->lock);
	for (i = 0; i < ring->size; i++) {
		if (ring->slots[i].number == fresh->number) {
			/* Another create or lookup got there first: ours are extra references. */
			spin_unlock(&ring->lock);
			cfs_ahead_slot_put(ring, fresh);
			return false;
		}
	}
	/* Room is kept for every request under way (busy_locked): this cannot be full. */
	if (WARN_ON_ONCE(ring->ndropped == ARRAY_SIZE(ring->dropped))) {
		spin_unlock(&ring->lock);
		cfs_ahead_slot_put(ring, fresh);
		return false;
	}
	slot = &ring->slots[ring->next];
	ring->next = (ring->next + 1) % ring->size;
	if (slot->number) {
		ring->dropped[ring->ndropped++] = *slot;
		ring->dropped_count++;
		*replaced = true;
	}
	*slot = *fresh;
	ring->requested++;
	spin_unlock(&ring->lock);
	if (*replaced)
		queue_work(system_unbound_wq, &ring->put_work);
	return true;
}

bool cfs_ahead_ring_take_locked(struct cfs_ahead_ring *ring, u64 number, struct cfs_ahead_slot *out)
{
	unsigned int i;

	for (i = 0; i < ring->size; i++) {
		if (ring->slots[i].number == number) {
			*out = ring->slots[i];
			memset(&ring->slots[i], 0, sizeof(ring->slots[i]));
			ring->used++;
			return true;
		}
	}
	return false;
}

void cfs_ahead_ring_drop(struct cfs_ahead_ring *ring,
			 bool (*match)(const struct cfs_ahead_slot *slot, void *arg), void *arg)
{
	bool queue = false;
	unsigned int i;

	spin_lock(&ring->lock);
	for (i = 0; i < ring->size; i++) {
		struct cfs_ahead_slot *slot = &ring->slots[i];

		if (!slot->number || ring->ndropped == ARRAY_SIZE(ring->dropped) || !match(slot, arg))
			continue;
		ring->dropped[ring->ndropped++] = *slot;
		ring->dropped_count++;
		memset(slot, 0, sizeof(*slot));
		queue = true;
	}
	spin_unlock(&ring->lock);
	if (queue)
		queue_work(system_unbound_wq, &ring->put_work);
}

void cfs_ahead_ring_drain(struct cfs_ahead_ring *ring)
{
	unsigned int i;

	flush_work(&ring->put_work);
	for (i = 0; i < ring->size; i++) {
		struct cfs_ahead_slot slot;

		spin_lock(&ring->lock);
		slot = ring->slots[i];
		memset(&ring->slots[i], 0, sizeof(ring->slots[i]));
		spin_unlock(&ring->lock);
		if (slot.number)
			ring->release(ring, &slot);
	}
	/* Nothing adds to the list now (no create or lookup runs at unmount). */
	cfs_ahead_ring_put_work(&ring->put_work);
}
