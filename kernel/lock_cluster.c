// SPDX-License-Identifier: GPL-2.0
/*
 * lock_cluster: the node's link to clusterfs_lockd and the mounts that use it.
 *
 * The module creates the misc device /dev/clusterfs_lock (root only, one opener).
 * clusterfs_lockd opens it and serves include/clusterfs/lockproto.h on it exactly as on
 * its unix socket: read() hands lockd the requests queued by mounts (whole messages),
 * write() takes lockd's events (whole messages, several per write allowed). The first
 * message of every open is our HELLO; until lockd answered it with a revision both
 * speak, no mount may join.
 *
 * Requests that expect an answer (HELLO, JOIN, LEAVE, RECOVERED) wait on a call matched
 * by seq. Glocks are this mount's locks (cfs_lock_cluster below): each one that exists
 * in lockd has a lock id, and completions and blocking callbacks are routed by
 * (lockspace id, lock id) to it. When lockd closes the device (it stopped or died),
 * every pending call and lock request fails with -ENOTCONN and every mounted
 * lock_cluster filesystem withdraws: its locks are gone, so it must not write another
 * block.
 */
#include <linux/fs.h>
#include <linux/fs_context.h>
#include <linux/miscdevice.h>
#include <linux/poll.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>

#include <clusterfs/lockproto.h>

#include "clusterfs.h"
#include "core.h"
#include "lock_cluster.h"

/* Bounds: lockd reads quickly; a mount never has more than a few requests queued. */
#define CFS_LOCKD_QUEUE_MAX	4096
#define CFS_LOCKD_WRITE_MAX	(64 * 1024)
#define CFS_LOCKD_REPLY_MAX	sizeof(struct cfs_lock_ev_complete)
static_assert(sizeof(struct cfs_lock_ev_plock) <= CFS_LOCKD_REPLY_MAX);

#define CFS_HELLO_WAIT		(5 * HZ)
#define CFS_CALL_WAIT		(60 * HZ)

struct cfs_lockd_msg {
	struct list_head list;
	size_t len;
	u8 data[];
};

/* A request waiting for the event that answers it (same seq). */
struct cfs_lockd_call {
	struct list_head list;
	u32 seq;
	u16 reply_type;
	bool done;
	bool abandoned;		/* the caller gave up; a JOINED for it must be undone */
	/*
	 * A JOIN's mount: it becomes findable by its lockspace id as the JOINED is read,
	 * before the events lockd sends right after it (RECOVER_JOURNAL) are dispatched.
	 */
	struct cfs_cluster *joiner;
	/*
	 * A plock LOCK whose caller gave up (killed, or lockd silent): if it is granted
	 * after all, this UNLOCK gives the range back, as nobody records it locally.
	 */
	bool plock_undo_valid;
	struct cfs_lock_req_plock plock_undo;
	int error;		/* -ENOTCONN: lockd closed the device first */
	u8 reply[CFS_LOCKD_REPLY_MAX];
};

/* One mount of a lock_cluster filesystem. */
struct cfs_cluster {
	struct list_head list;		/* on cfs_lockd.mounts */
	struct cfs_sb_info *sbi;
	u64 generation;			/* of the lockd open it joined through */
	u32 lockspace_id;
	u32 node_id;
	bool joined;
	bool dead;			/* lockd went away or told us to withdraw */
	bool mounted;			/* fill_super done: a lost lockd withdraws it */

	struct xarray locks;		/* lock id -> glock, for lockd's events */
	/*
	 * Lock ids are handed out cyclically, never the lowest free one: an id the module
	 * has forgotten while lockd may still send an event for it (a reply crossing a
	 * release) is not given to another glock for 2^32 allocations, so that no grant or
	 * blocking callback meant for one glock ever reaches another.
	 */
	u32 next_lkid;

	unsigned long *recover;		/* journals lockd told us to replay */
	struct work_struct recover_work;
	/*
	 * Frees what a recovered node left unlinked (cfs_reclaim_dead_unlinked). Its own
	 * work: it takes glocks, which the recovery work must never wait for (a glock a
	 * second dead node pins is released by a recovery queued behind it).
	 */
	struct work_struct reclaim_work;
	bool stopping;			/* unmount began: no reclaim is queued or goes on */
	struct work_struct withdraw_work;	/* hands the withdrawn mount's locks over */
	struct mutex depart_mutex;	/* one LEAVE or WITHDRAWN per mount */
	wait_queue_head_t wait;
};

static struct {
	spinlock_t lock;
	bool open;
	u64 generation;			/* bumped by every open */
	struct list_head outq;
	unsigned int outq_len;
	wait_queue_head_t readq;	/* lockd's read() and poll() */
	wait_queue_head_t callq;	/* callers waiting for answers or the HELLO */
	struct list_head calls;
	struct list_head mounts;
	u32 next_seq;
	int hello_status;		/* -EINPROGRESS until lockd answered */
	u16 lockd_rev_min, lockd_rev_max;
} cfs_lockd;

static enum cfs_glock_state cfs_mode_state(u32 mode);

static void cfs_header_init(struct cfs_lock_header *h, u16 type, u32 len)
{
	h->magic = cpu_to_le32(CFS_LOCKPROTO_MAGIC);
	h->version = cpu_to_le16(CFS_LOCKPROTO_VERSION);
	h->type = cpu_to_le16(type);
	h->length = cpu_to_le32(len);
	h->seq = 0;
}

/* Queues @msg for lockd. Called with cfs_lockd.lock held. */
static int cfs_lockd_queue_locked(const void *msg, size_t len)
{
	struct cfs_lockd_msg *m;

	if (!cfs_lockd.open)
		return -ENOTCONN;
	if (cfs_lockd.outq_len >= CFS_LOCKD_QUEUE_MAX)
		return -ENOBUFS;
	m = kmalloc(sizeof(*m) + len, GFP_ATOMIC);
	if (!m)
		return -ENOMEM;
	m->len = len;
	memcpy(m->data, msg, len);
	list_add_tail(&m->list, &cfs_lockd.outq);
	cfs_lockd.outq_len++;
	wake_up_interruptible(&cfs_lockd.readq);
	return 0;
}

/*
 * Sends @msg (its seq is set here) and waits for the event of type @reply_type that
 * answers it. @abandon_join: if we stop waiting, a late JOINED is answered by a LEAVE.
 */
static int cfs_lockd_call(void *msg, size_t len, u16 reply_type, void *reply, size_t reply_len,
			  struct cfs_cluster *joiner)
{
	struct cfs_lock_header *h = msg;
	struct cfs_lockd_call *call;
	long left;
	int err;

	call = kzalloc(sizeof(*call), GFP_KERNEL);
	if (!call)
		return -ENOMEM;
	call->reply_type = reply_type;
	call->joiner = joiner;
	spin_lock(&cfs_lockd.lock);
	if (++cfs_lockd.next_seq == 0)
		cfs_lockd.next_seq = 1;
	call->seq = cfs_lockd.next_seq;
	h->seq = cpu_to_le32(call->seq);
	err = cfs_lockd_queue_locked(msg, len);
	if (!err)
		list_add_tail(&call->list, &cfs_lockd.calls);
	spin_unlock(&cfs_lockd.lock);
	if (err) {
		kfree(call);
		return err;
	}

	left = wait_event_killable_timeout(cfs_lockd.callq, READ_ONCE(call->done), CFS_CALL_WAIT);

	spin_lock(&cfs_lockd.lock);
	if (!call->done) {
		/* A JOINED may still come: the dispatcher then leaves and frees the call. */
		if (joiner && cfs_lockd.open) {
			call->abandoned = true;
			spin_unlock(&cfs_lockd.lock);
			return left < 0 ? -EINTR : -ETIMEDOUT;
		}
		list_del(&call->list);
	}
	spin_unlock(&cfs_lockd.lock);
	if (!call->done)
		err = left < 0 ? -EINTR : -ETIMEDOUT;
	else if (call->error)
		err = call->error;
	else
		memcpy(reply, call->reply, min(reply_len, sizeof(call->reply)));
	kfree(call);
	return err;
}

/* ---- events from lockd ---------------------------------------------------------- */

static struct cfs_cluster *cfs_cluster_by_lockspace(u32 lockspace_id)
{
	struct cfs_cluster *cl;

	list_for_each_entry(cl, &cfs_lockd.mounts, list)
		if (cl->joined && cl->generation == cfs_lockd.generation &&
		    cl->lockspace_id == lockspace_id)
			return cl;
	return NULL;
}

static size_t cfs_event_size(u16 type)
{
	switch (type) {
	case CFS_LOCK_EV_JOINED: return sizeof(struct cfs_lock_ev_joined);
	case CFS_LOCK_EV_COMPLETE: return sizeof(struct cfs_lock_ev_complete);
	case CFS_LOCK_EV_BAST: return sizeof(struct cfs_lock_ev_bast);
	case CFS_LOCK_EV_RECOVER: return sizeof(struct cfs_lock_ev_recover);
	case CFS_LOCK_EV_WITHDRAW: return sizeof(struct cfs_lock_ev_withdraw);
	case CFS_LOCK_EV_REPLY: return sizeof(struct cfs_lock_ev_reply);
	case CFS_LOCK_EV_HELLO: return sizeof(struct cfs_lock_hello);
	case CFS_LOCK_EV_PLOCK: return sizeof(struct cfs_lock_ev_plock);
	}
	return 0;
}

/* Requests lockd will never answer now: releases succeed (the lock is gone), the rest fail. */
static void cfs_cluster_fail_requests_locked(struct cfs_cluster *cl)
{
	struct cfs_glock *gl;
	unsigned long id;

	xa_for_each(&cl->locks, id, gl) {
		if (!test_bit(CFS_GLF_REQUEST_PENDING, &gl->gl_flags))
			continue;
		if (gl->gl_target == CFS_GL_UN)
			cfs_glock_complete(gl, CFS_GL_UN, 0);
		else
			cfs_glock_complete(gl, gl->gl_state, -ENOTCONN);
	}
}

/* A mount that lost its locks: wake its waiters; a mounted one withdraws. */
static void cfs_cluster_kill_locked(struct cfs_cluster *cl, const char *why)
{
	if (cl->dead)
		return;
	cl->dead = true;
	cfs_cluster_fail_requests_locked(cl);
	wake_up_all(&cl->wait);
	wake_up_all(&cfs_lockd.callq);	/* plock waits end with the mount's locks */
	if (cl->mounted)
		cfs_withdraw(cl->sbi, "%s: this node no longer holds the filesystem's cluster locks", why);
}

static const char *cfs_withdraw_reason(u32 reason)
{
	switch (reason) {
	case CFS_WITHDRAW_COROSYNC_LOST:
		return "clusterfs_lockd lost its corosync";
	case CFS_WITHDRAW_REFUSED:
		return "the cluster declared this node dead";
	case CFS_WITHDRAW_SHUTDOWN:
		return "clusterfs_lockd is stopping";
	case CFS_WITHDRAW_INQUORATE:
		return "this node lost quorum";
	default:
		return "clusterfs_lockd withdrew the lockspace";
	}
}

/* Answers a call; a JOINED for a call whose caller gave up is undone with a LEAVE. */
static void cfs_lockd_answer_locked(u16 type, const void *msg, size_t len)
{
	const struct cfs_lock_header *h = msg;
	u32 seq = le32_to_cpu(h->seq);
	struct cfs_lockd_call *call;

	/* Answers to requests sent without waiting (a plock UNLOCK giving a range back). */
	if (!seq)
		return;
	list_for_each_entry(call, &cfs_lockd.calls, list) {
		if (call->seq != seq || call->reply_type != type)
			continue;
		list_del(&call->list);
		if (call->abandoned) {
			const struct cfs_lock_ev_joined *j = msg;
			struct cfs_lock_req_leave leave = {};

			if (type == CFS_LOCK_EV_JOINED && !j->status) {
				cfs_header_init(&leave.hdr, CFS_LOCK_REQ_LEAVE, sizeof(leave));
				leave.lockspace_id = j->lockspace_id;
				cfs_lockd_queue_locked(&leave, sizeof(leave));
			}
			if (type == CFS_LOCK_EV_PLOCK && call->plock_undo_valid &&
			    !((const struct cfs_lock_ev_plock *)msg)->status)
				cfs_lockd_queue_locked(&call->plock_undo, sizeof(call->plock_undo));
			kfree(call);
			return;
		}
		if (type == CFS_LOCK_EV_JOINED && call->joiner) {
			const struct cfs_lock_ev_joined *j = msg;

			if (!j->status) {
				call->joiner->lockspace_id = le32_to_cpu(j->lockspace_id);
				call->joiner->joined = true;
			}
		}
		memcpy(call->reply, msg, min(len, sizeof(call->reply)));
		WRITE_ONCE(call->done, true);
		wake_up_all(&cfs_lockd.callq);
		return;
	}
	pr_warn_ratelimited("clusterfs: clusterfs_lockd answered request %u that nobody waits for\n", seq);
}

static void cfs_lockd_event_locked(u16 type, const void *msg, size_t len)
{
	struct cfs_cluster *cl;

	switch (type) {
	case CFS_LOCK_EV_HELLO: {
		const struct cfs_lock_hello *hello = msg;

		cfs_lockd.lockd_rev_min = le16_to_cpu(hello->revision_min);
		cfs_lockd.lockd_rev_max = le16_to_cpu(hello->revision_max);
		cfs_lockd.hello_status = (s32)le32_to_cpu(hello->status);
		if (!cfs_lockd.hello_status &&
		    (cfs_lockd.lockd_rev_min > CFS_LOCKPROTO_KERNEL_REVISION ||
		     cfs_lockd.lockd_rev_max < CFS_LOCKPROTO_KERNEL_REVISION))
			cfs_lockd.hello_status = -EPROTONOSUPPORT;
		wake_up_all(&cfs_lockd.callq);
		return;
	}
	case CFS_LOCK_EV_JOINED:
	case CFS_LOCK_EV_REPLY:
	case CFS_LOCK_EV_PLOCK:
		cfs_lockd_answer_locked(type, msg, len);
		return;
	case CFS_LOCK_EV_COMPLETE: {
		const struct cfs_lock_ev_complete *c = msg;
		u64 id = le64_to_cpu(c->lock_id);
		u32 mode = le32_to_cpu(c->mode);
		int status = (s32)le32_to_cpu(c->status);
		struct cfs_glock *gl;

		cl = cfs_cluster_by_lockspace(le32_to_cpu(c->lockspace_id));
		gl = cl && id <= U32_MAX ? xa_load(&cl->locks, id) : NULL;
		if (!gl) {
			pr_warn_ratelimited("clusterfs: clusterfs_lockd completed lock %llu that no glock has\n", id);
			/*
			 * Granted to nobody: held, it would block every other node's request for
			 * that resource until this mount leaves. Give it back (the id is not
			 * reused meanwhile: next_lkid).
			 */
			if (cl && !status && mode != CFS_LOCK_IV) {
				struct cfs_lock_req_lock req = {};

				cfs_header_init(&req.hdr, CFS_LOCK_REQ_UNLOCK, sizeof(req));
				req.lockspace_id = c->lockspace_id;
				req.lock_id = c->lock_id;
				cfs_lockd_queue_locked(&req, sizeof(req));
			}
			return;
		}
		if (status == -EEXIST)
			pr_err_ratelimited("clusterfs (%s): clusterfs_lockd still holds a lock of id %llu: the module forgot it early\n",
					   cl->sbi->sb->s_id, id);
		/* The lock no longer exists in lockd (released, or refused when made). */
		if (mode == CFS_LOCK_IV) {
			xa_erase(&cl->locks, id);
			gl->gl_lkid = 0;
		}
		if (!test_bit(CFS_GLF_REQUEST_PENDING, &gl->gl_flags)) {
			pr_warn_ratelimited("clusterfs (%s): clusterfs_lockd completed %s lock %llx that asked nothing\n",
					    cl->sbi->sb->s_id, gl->gl_ops->name, gl->gl_number);
			return;
		}
		if (status)
			cfs_glock_complete(gl, gl->gl_state, status);
		else
			cfs_glock_complete(gl, cfs_mode_state(mode), 0);
		return;
	}
	case CFS_LOCK_EV_BAST: {
		const struct cfs_lock_ev_bast *b = msg;
		u64 id = le64_to_cpu(b->lock_id);
		u32 mode = le32_to_cpu(b->mode);
		struct cfs_glock *gl;

		cl = cfs_cluster_by_lockspace(le32_to_cpu(b->lockspace_id));
		gl = cl && id <= U32_MAX ? xa_load(&cl->locks, id) : NULL;
		if (!gl)
			return;
		/* A reader elsewhere lets us keep a shared copy; anything else takes it all. */
		cfs_glock_callback(gl, mode == CFS_LOCK_PR || mode == CFS_LOCK_CR ? CFS_GL_SH : CFS_GL_UN);
		return;
	}
	case CFS_LOCK_EV_RECOVER: {
		const struct cfs_lock_ev_recover *r = msg;
		u32 journal = le32_to_cpu(r->journal);

		cl = cfs_cluster_by_lockspace(le32_to_cpu(r->lockspace_id));
		if (!cl)
			return;
		if (journal >= cl->sbi->journals) {
			pr_err("clusterfs (%s): clusterfs_lockd asked to replay journal %u of %u\n",
			       cl->sbi->sb->s_id, journal, cl->sbi->journals);
			return;
		}
		set_bit(journal, cl->recover);
		queue_work(system_long_wq, &cl->recover_work);
		return;
	}
	case CFS_LOCK_EV_WITHDRAW: {
		const struct cfs_lock_ev_withdraw *w = msg;
		u32 id = le32_to_cpu(w->lockspace_id);
		const char *why = cfs_withdraw_reason(le32_to_cpu(w->reason));

		list_for_each_entry(cl, &cfs_lockd.mounts, list)
			if (cl->joined && (id == CFS_LOCKSPACE_ALL || cl->lockspace_id == id))
				cfs_cluster_kill_locked(cl, why);
		return;
	}
	}
}

/* ---- the device -------------------------------------------------------------------- */

static int cfs_lockd_open(struct inode *inode, struct file *file)
{
	struct cfs_lock_hello hello = {};
	int err;

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	spin_lock(&cfs_lockd.lock);
	if (cfs_lockd.open) {
		spin_unlock(&cfs_lockd.lock);
		return -EBUSY;
	}
	cfs_lockd.open = true;
	cfs_lockd.generation++;
	cfs_lockd.hello_status = -EINPROGRESS;
	cfs_header_init(&hello.hdr, CFS_LOCK_REQ_HELLO, sizeof(hello));
	if (++cfs_lockd.next_seq == 0)
		cfs_lockd.next_seq = 1;
	hello.hdr.seq = cpu_to_le32(cfs_lockd.next_seq);
	hello.revision_min = cpu_to_le16(CFS_LOCKPROTO_KERNEL_REVISION);
	hello.revision_max = cpu_to_le16(CFS_LOCKPROTO_KERNEL_REVISION);
	err = cfs_lockd_queue_locked(&hello, sizeof(hello));
	if (err)
		cfs_lockd.open = false;
	spin_unlock(&cfs_lockd.lock);
	if (err)
		return err;
	return nonseekable_open(inode, file);
}

static int cfs_lockd_release(struct inode *inode, struct file *file)
{
	struct cfs_lockd_msg *m, *next_m;
	struct cfs_lockd_call *call, *next_call;
	struct cfs_cluster *cl;
	unsigned int lost = 0;

	spin_lock(&cfs_lockd.lock);
	cfs_lockd.open = false;
	cfs_lockd.hello_status = -ENOTCONN;
	list_for_each_entry_safe(m, next_m, &cfs_lockd.outq, list) {
		list_del(&m->list);
		kfree(m);
	}
	cfs_lockd.outq_len = 0;
	list_for_each_entry_safe(call, next_call, &cfs_lockd.calls, list) {
		list_del(&call->list);
		if (call->abandoned) {
			kfree(call);
			continue;
		}
		call->error = -ENOTCONN;
		WRITE_ONCE(call->done, true);
	}
	list_for_each_entry(cl, &cfs_lockd.mounts, list) {
		if (!cl->joined || cl->dead)
			continue;
		lost++;
		cfs_cluster_kill_locked(cl, "clusterfs_lockd closed /dev/clusterfs_lock (stopped or died)");
	}
	wake_up_all(&cfs_lockd.callq);
	spin_unlock(&cfs_lockd.lock);
	if (lost)
		pr_err("clusterfs: clusterfs_lockd went away with %u filesystem%s mounted\n", lost,
		       lost == 1 ? "" : "s");
	return 0;
}

static ssize_t cfs_lockd_read(struct file *file, char __user *buf, size_t count, loff_t *ppos)
{
	LIST_HEAD(batch);
	struct cfs_lockd_msg *m, *next;
	size_t total = 0;
	ssize_t ret;

	for (;;) {
		spin_lock(&cfs_lockd.lock);
		if (!list_empty(&cfs_lockd.outq))
			break;
		spin_unlock(&cfs_lockd.lock);
		if (file->f_flags & O_NONBLOCK)
			return -EAGAIN;
		if (wait_event_interruptible(cfs_lockd.readq, !list_empty(&cfs_lockd.outq)))
			return -ERESTARTSYS;
	}
	/* Whole messages only: as many as fit. */
	list_for_each_entry_safe(m, next, &cfs_lockd.outq, list) {
		if (total + m->len > count)
			break;
		list_move_tail(&m->list, &batch);
		cfs_lockd.outq_len--;
		total += m->len;
	}
	spin_unlock(&cfs_lockd.lock);
	if (list_empty(&batch))
		return -EINVAL;	/* buffer smaller than one message */

	ret = total;
	total = 0;
	list_for_each_entry_safe(m, next, &batch, list) {
		if (ret > 0 && copy_to_user(buf + total, m->data, m->len))
			ret = -EFAULT;
		total += m->len;
		list_del(&m->list);
		kfree(m);
	}
	return ret;
}

/* Takes whole events; returns the bytes of the whole events consumed. */
static ssize_t cfs_lockd_write(struct file *file, const char __user *ubuf, size_t count,
			       loff_t *ppos)
{
	size_t off = 0;
	u8 *buf;

	count = min_t(size_t, count, CFS_LOCKD_WRITE_MAX);
	buf = memdup_user(ubuf, count);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	spin_lock(&cfs_lockd.lock);
	while (count - off >= sizeof(struct cfs_lock_header)) {
		const struct cfs_lock_header *h = (const void *)(buf + off);
		u16 type = le16_to_cpu(h->type);
		u32 len = le32_to_cpu(h->length);
		size_t want = cfs_event_size(type);

		if (le32_to_cpu(h->magic) != CFS_LOCKPROTO_MAGIC ||
		    le16_to_cpu(h->version) != CFS_LOCKPROTO_VERSION || !want || len != want) {
			spin_unlock(&cfs_lockd.lock);
			kfree(buf);
			pr_err_ratelimited("clusterfs: malformed message from clusterfs_lockd (type %u, length %u)\n",
					   type, len);
			return off ? off : -EINVAL;
		}
		if (count - off < len)
			break;
		cfs_lockd_event_locked(type, buf + off, len);
		off += len;
	}
	spin_unlock(&cfs_lockd.lock);
	kfree(buf);
	return off ? off : -EINVAL;
}

static __poll_t cfs_lockd_poll(struct file *file, poll_table *wait)
{
	__poll_t mask = EPOLLOUT | EPOLLWRNORM;

	poll_wait(file, &cfs_lockd.readq, wait);
	if (!list_empty_careful(&cfs_lockd.outq))
		mask |= EPOLLIN | EPOLLRDNORM;
	return mask;
}

static const struct file_operations cfs_lockd_fops = {
	.owner		= THIS_MODULE,
	.open		= cfs_lockd_open,
	.release	= cfs_lockd_release,
	.read		= cfs_lockd_read,
	.write		= cfs_lockd_write,
	.poll		= cfs_lockd_poll,
};

static struct miscdevice cfs_lockd_device = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "clusterfs_lock",
	.fops	= &cfs_lockd_fops,
	.mode	= 0600,
};

int cfs_lock_cluster_init(void)
{
	spin_lock_init(&cfs_lockd.lock);
	INIT_LIST_HEAD(&cfs_lockd.outq);
	INIT_LIST_HEAD(&cfs_lockd.calls);
	INIT_LIST_HEAD(&cfs_lockd.mounts);
	init_waitqueue_head(&cfs_lockd.readq);
	init_waitqueue_head(&cfs_lockd.callq);
	cfs_lockd.hello_status = -ENOTCONN;
	return misc_register(&cfs_lockd_device);
}

void cfs_lock_cluster_exit(void)
{
	misc_deregister(&cfs_lockd_device);
}

/* ---- mounts ---------------------------------------------------------------------- */

static int cfs_cluster_recover_journal(struct cfs_cluster *cl, u32 journal)
{
	struct cfs_sb_info *sbi = cl->sbi;
	struct cfs_lock_req_recovered req = {};
	struct cfs_lock_ev_reply reply = {};
	struct cfs_core_replay replay;
	int err;

	mutex_lock(&sbi->trans_mutex);
	err = cfs_withdrawn(sbi) ? -EIO : cfs_core_journal_recover(sbi->core, journal, true, &replay);
	mutex_unlock(&sbi->trans_mutex);
	if (err && cfs_withdrawn(sbi)) {
		/* Our WITHDRAWN makes lockd give it to another mount. */
		pr_err("clusterfs (%s): withdrawn: journal %u of a dead node is left to another node\n",
		       sbi->sb->s_id, journal);
		return err;
	}
	if (err) {
		/* Not reported as recovered: the dead node's locks stay pinned. */
		pr_err("clusterfs (%s): cannot replay journal %u of a dead node (%d); its locks stay held until it is replayed (fsck.clusterfs)\n",
		       sbi->sb->s_id, journal, err);
		return err;
	}
	pr_info("clusterfs (%s): journal %u of a dead node recovered: %s, %u records, %u blocks written, %u revoked, %u superseded\n",
		sbi->sb->s_id, journal, replay.was_dirty ? "replayed" : "was clean", replay.records,
		replay.blocks_replayed, replay.blocks_revoked, replay.blocks_superseded);
	/* Replay wrote home blocks behind the buffer cache. */
	if (replay.was_dirty)
		invalidate_bdev(sbi->sb->s_bdev);
	cfs_header_init(&req.hdr, CFS_LOCK_REQ_RECOVERED, sizeof(req));
	req.lockspace_id = cpu_to_le32(cl->lockspace_id);
	req.journal = cpu_to_le32(journal);
	err = cfs_lockd_call(&req, sizeof(req), CFS_LOCK_EV_REPLY, &reply, sizeof(reply), NULL);
	if (!err)
		err = (s32)le32_to_cpu(reply.status);
	if (err) {
		pr_err("clusterfs (%s): clusterfs_lockd did not accept the recovery of journal %u (%d)\n",
		       sbi->sb->s_id, journal, err);
		return err;
	}
	spin_lock(&cfs_lockd.lock);
	if (!cl->stopping)
		queue_work(system_long_wq, &cl->reclaim_work);
	spin_unlock(&cfs_lockd.lock);
	return 0;
}

/* Replays every journal lockd assigned to us so far. */
static void cfs_cluster_recover_assigned(struct cfs_cluster *cl)
{
	u32 journal;

	for (;;) {
		spin_lock(&cfs_lockd.lock);
		journal = find_first_bit(cl->recover, cl->sbi->journals);
		if (journal < cl->sbi->journals)
			clear_bit(journal, cl->recover);
		spin_unlock(&cfs_lockd.lock);
		if (journal >= cl->sbi->journals)
			return;
		cfs_cluster_recover_journal(cl, journal);
	}
}

static void cfs_cluster_recover_work(struct work_struct *work)
{
	cfs_cluster_recover_assigned(container_of(work, struct cfs_cluster, recover_work));
}

static bool cfs_cluster_stopping(struct cfs_sb_info *sbi)
{
	return READ_ONCE(sbi->cluster->stopping);
}

static void cfs_cluster_reclaim_work(struct work_struct *work)
{
	struct cfs_cluster *cl = container_of(work, struct cfs_cluster, reclaim_work);

	cfs_reclaim_dead_unlinked(cl->sbi, cfs_cluster_stopping);
}

void cfs_cluster_stop_reclaim(struct cfs_sb_info *sbi)
{
	struct cfs_cluster *cl = sbi->cluster;

	if (!cl)
		return;
	spin_lock(&cfs_lockd.lock);
	cl->stopping = true;
	spin_unlock(&cfs_lockd.lock);
	cancel_work_sync(&cl->reclaim_work);
}


/* ---- the lock module: glocks as lockd locks ------------------------------------------ */

static u32 cfs_state_mode(enum cfs_glock_state state)
{
	switch (state) {
	case CFS_GL_SH: return CFS_LOCK_PR;
	case CFS_GL_DF: return CFS_LOCK_CW;
	case CFS_GL_EX: return CFS_LOCK_EX;
	default: return CFS_LOCK_NL;
	}
}

static enum cfs_glock_state cfs_mode_state(u32 mode)
{
	switch (mode) {
	case CFS_LOCK_PR: return CFS_GL_SH;
	case CFS_LOCK_CW: return CFS_GL_DF;
	case CFS_LOCK_PW:
	case CFS_LOCK_EX: return CFS_GL_EX;
	default: return CFS_GL_UN;
	}
}

static const char *const cfs_glock_lock_names[CFS_GLT_MAX + 1] = {
	[CFS_GLT_META] = "meta",
	[CFS_GLT_INODE] = "inode",
	[CFS_GLT_RGRP] = "rgrp",
	[CFS_GLT_IOPEN] = "iopen",
	[CFS_GLT_JOURNAL] = "jrnl",	/* never "journal/": lockd's own */
	[CFS_GLT_FLOCK] = "flock",
};

/*
 * Asks lockd for @state: LOCK the first time, CONVERT after, UNLOCK for UN. The answer
 * comes back as a COMPLETE event (cfs_lockd_event_locked), which completes the glock.
 */
static void cfs_cluster_lm_lock(struct cfs_glock *gl, enum cfs_glock_state state)
{
	struct cfs_cluster *cl = gl->gl_sbi->cluster;
	bool try = test_and_clear_bit(CFS_GLF_TRY, &gl->gl_flags);
	struct cfs_lock_req_lock req = {};
	u16 type;
	u32 id;
	int len, err;

	if (state == CFS_GL_UN && !gl->gl_lkid) {
		cfs_glock_complete(gl, CFS_GL_UN, 0);
		return;
	}
	/*
	 * Withdrawn: what this node dirtied may not be home (the journal holds it), so no
	 * lock is released to lockd: the mount's WITHDRAWN hands them all over at once,
	 * pinned to our journal until another node replays it. Locally a release succeeds,
	 * anything else fails.
	 */
	if (cfs_withdrawn(gl->gl_sbi)) {
		if (state == CFS_GL_UN) {
			spin_lock(&cfs_lockd.lock);
			xa_erase(&cl->locks, gl->gl_lkid);
			gl->gl_lkid = 0;
			spin_unlock(&cfs_lockd.lock);
			cfs_glock_complete(gl, CFS_GL_UN, 0);
		} else {
			cfs_glock_complete(gl, gl->gl_state, -EIO);
		}
		return;
	}
	/*
	 * Unmounting (or a failed mount), a glock being freed (its final put: no reference
	 * left): what the lock covered is written back already (go_sync ran), and leaving
	 * the lockspace releases every lock at once; one round trip per cached glock would
	 * make unmount take minutes. Not a demotion another node asked for: that node waits
	 * for the release, and this unmount may need the lock again (freeing an unlinked
	 * inode takes the allocation lock), which a lock left held in lockd under a
	 * forgotten id would block for good.
	 */
	if (state == CFS_GL_UN && !(gl->gl_sbi->sb->s_flags & SB_ACTIVE) && !refcount_read(&gl->gl_ref)) {
		spin_lock(&cfs_lockd.lock);
		xa_erase(&cl->locks, gl->gl_lkid);
		gl->gl_lkid = 0;
		spin_unlock(&cfs_lockd.lock);
		cfs_glock_complete(gl, CFS_GL_UN, 0);
		return;
	}
	if (!gl->gl_lkid) {
		err = xa_alloc_cyclic(&cl->locks, &id, gl, XA_LIMIT(1, U32_MAX), &cl->next_lkid, GFP_NOFS);
		if (err > 0)
			err = 0;	/* wrapped around */
		if (err) {
			cfs_glock_complete(gl, gl->gl_state, err);
			return;
		}
		gl->gl_lkid = id;
		type = CFS_LOCK_REQ_LOCK;
		len = scnprintf(req.name, sizeof(req.name), "%s/%llx",
				cfs_glock_lock_names[gl->gl_type], gl->gl_number);
		req.name_len = cpu_to_le32(len);
	} else {
		type = state == CFS_GL_UN ? CFS_LOCK_REQ_UNLOCK : CFS_LOCK_REQ_CONVERT;
	}
	cfs_header_init(&req.hdr, type, sizeof(req));
	req.lockspace_id = cpu_to_le32(cl->lockspace_id);
	req.lock_id = cpu_to_le64(gl->gl_lkid);
	req.mode = cpu_to_le32(cfs_state_mode(state));
	req.flags = cpu_to_le32(try ? CFS_LKF_NOQUEUE : 0);

	spin_lock(&cfs_lockd.lock);
	err = cl->dead ? -ENOTCONN : cfs_lockd_queue_locked(&req, sizeof(req));
	if (err && type == CFS_LOCK_REQ_LOCK) {
		xa_erase(&cl->locks, gl->gl_lkid);
		gl->gl_lkid = 0;
	}
	spin_unlock(&cfs_lockd.lock);
	if (!err)
		return;
	/* lockd is gone: its locks with it. A release succeeds, anything else fails. */
	if (state == CFS_GL_UN)
		cfs_glock_complete(gl, CFS_GL_UN, 0);
	else
		cfs_glock_complete(gl, gl->gl_state, err);
}

/* The glock is being freed: no event may find it any more. */
static void cfs_cluster_lm_put(struct cfs_glock *gl)
{
	struct cfs_cluster *cl = gl->gl_sbi->cluster;

	if (!cl || !gl->gl_lkid)
		return;
	spin_lock(&cfs_lockd.lock);
	xa_erase(&cl->locks, gl->gl_lkid);
	gl->gl_lkid = 0;
	spin_unlock(&cfs_lockd.lock);
}

const struct cfs_lock_module cfs_lock_cluster = {
	.name		= "lock_cluster",
	.lm_lock	= cfs_cluster_lm_lock,
	.lm_put		= cfs_cluster_lm_put,
};

/* ---- POSIX (fcntl) locks ---------------------------------------------------------- */

/*
 * Sends a plock request and waits for its EV_PLOCK. @interruptible (F_SETLKW): a
 * signal sends CANCEL for it, and the answer then says whether it was withdrawn
 * (-ECANCELED) or granted first; either way we know what lockd holds. A caller that
 * stops waiting without an answer (killed, or lockd silent for CFS_CALL_WAIT) leaves
 * an UNLOCK behind to undo a late grant of its LOCK.
 */
static int cfs_plock_call(struct cfs_cluster *cl, struct cfs_lock_req_plock *req,
			  struct cfs_lock_ev_plock *ev, bool interruptible)
{
	struct cfs_lockd_call *call;
	long left;
	int err;

	call = kzalloc(sizeof(*call), GFP_KERNEL);
	if (!call)
		return -ENOMEM;
	call->reply_type = CFS_LOCK_EV_PLOCK;
	cfs_header_init(&req->hdr, CFS_LOCK_REQ_PLOCK, sizeof(*req));
	req->lockspace_id = cpu_to_le32(cl->lockspace_id);
	spin_lock(&cfs_lockd.lock);
	if (cl->dead) {
		err = -ENOLCK;
	} else {
		if (++cfs_lockd.next_seq == 0)
			cfs_lockd.next_seq = 1;
		call->seq = cfs_lockd.next_seq;
		req->hdr.seq = cpu_to_le32(call->seq);
		err = cfs_lockd_queue_locked(req, sizeof(*req));
		if (err == -ENOTCONN)
			err = -ENOLCK;
	}
	if (!err)
		list_add_tail(&call->list, &cfs_lockd.calls);
	spin_unlock(&cfs_lockd.lock);
	if (err) {
		kfree(call);
		return err;
	}

	if (interruptible &&
	    wait_event_interruptible(cfs_lockd.callq, READ_ONCE(call->done) || READ_ONCE(cl->dead))) {
		struct cfs_lock_req_plock cancel = *req;

		cancel.hdr.seq = 0;
		cancel.command = cpu_to_le32(CFS_PLOCK_CANCEL);
		cancel.cancel_seq = cpu_to_le32(call->seq);
		spin_lock(&cfs_lockd.lock);
		if (!call->done && !cl->dead)
			cfs_lockd_queue_locked(&cancel, sizeof(cancel));
		spin_unlock(&cfs_lockd.lock);
	}
	left = wait_event_killable_timeout(cfs_lockd.callq,
					   READ_ONCE(call->done) || READ_ONCE(cl->dead), CFS_CALL_WAIT);

	spin_lock(&cfs_lockd.lock);
	if (!call->done) {
		if (!cl->dead && cfs_lockd.open &&
		    le32_to_cpu(req->command) == CFS_PLOCK_LOCK) {
			call->plock_undo = *req;
			call->plock_undo.hdr.seq = 0;
			call->plock_undo.command = cpu_to_le32(CFS_PLOCK_UNLOCK);
			call->plock_undo.flags = 0;
			call->plock_undo_valid = true;
			call->abandoned = true;
			spin_unlock(&cfs_lockd.lock);
			return left < 0 ? -EINTR : -ETIMEDOUT;
		}
		list_del(&call->list);
		err = cl->dead ? -ENOLCK : left < 0 ? -EINTR : -ETIMEDOUT;
	} else if (call->error) {
		err = call->error == -ENOTCONN ? -ENOLCK : call->error;
	} else {
		memcpy(ev, call->reply, sizeof(*ev));
		err = (s32)le32_to_cpu(ev->status);
	}
	spin_unlock(&cfs_lockd.lock);
	kfree(call);
	return err;
}

/*
 * fcntl locks of a lock_cluster mount, as GFS2 has them through dlm_controld: lockd
 * arbitrates every lock cluster-wide (lockproto.h "POSIX byte-range locks"), and the
 * VFS records the granted ones as well, so that close and exit release them (through
 * this function with F_UNLCK) and /proc/locks shows them. The owner is the VFS's
 * (files_struct, or the open file for OFD locks); the file is named by its inode
 * number, the same on every node.
 */
int cfs_cluster_plock(struct cfs_sb_info *sbi, struct file *file, int cmd, struct file_lock *fl)
{
	struct cfs_cluster *cl = sbi->cluster;
	struct cfs_lock_req_plock req = {};
	struct cfs_lock_ev_plock ev = {};
	unsigned int flags = cfs_fl_flags(fl);
	int err;

	req.number = cpu_to_le64(file_inode(file)->i_ino);
	req.owner = cpu_to_le64((u64)(uintptr_t)cfs_fl_owner(fl));
	req.start = cpu_to_le64(fl->fl_start);
	req.end = cpu_to_le64(fl->fl_end == OFFSET_MAX ? CFS_PLOCK_END_MAX : (u64)fl->fl_end);
	req.pid = cpu_to_le32(cfs_fl_pid(fl));

	if (IS_GETLK(cmd)) {
		u64 end;

		if (cfs_withdrawn(sbi))
			return -EIO;
		req.command = cpu_to_le32(CFS_PLOCK_GET);
		req.flags = cpu_to_le32(cfs_fl_type(fl) == F_WRLCK ? CFS_PLF_WRITE : 0);
		err = cfs_plock_call(cl, &req, &ev, false);
		if (err)
			return err;
		if (!(le32_to_cpu(ev.flags) & CFS_PLF_FOUND)) {
			cfs_fl_set_type(fl, F_UNLCK);
			return 0;
		}
		cfs_fl_set_type(fl, le32_to_cpu(ev.flags) & CFS_PLF_WRITE ? F_WRLCK : F_RDLCK);
		cfs_fl_set_flags(fl, FL_POSIX);
		fl->fl_start = le64_to_cpu(ev.start);
		end = le64_to_cpu(ev.end);
		fl->fl_end = end >= OFFSET_MAX ? OFFSET_MAX : end;
		/* Another node's process: a negative pid, as fs/dlm reports it. */
		if (le32_to_cpu(ev.node_id) == cl->node_id)
			cfs_fl_set_pid(fl, le32_to_cpu(ev.pid));
		else
			cfs_fl_set_pid(fl, -(pid_t)le32_to_cpu(ev.pid));
		return 0;
	}

	if (cfs_fl_type(fl) == F_UNLCK) {
		/* Nothing held here in that range means nothing held in lockd either. */
		cfs_fl_set_flags(fl, flags | FL_EXISTS);
		err = locks_lock_file_wait(file, fl);
		cfs_fl_set_flags(fl, flags);
		if (err == -ENOENT)
			return 0;
		if (err)
			return err;
		if (READ_ONCE(cl->dead))
			return 0;	/* lockd dropped everything of this mount already */
		req.command = cpu_to_le32(CFS_PLOCK_UNLOCK);
		err = cfs_plock_call(cl, &req, &ev, false);
		return err == -ENOLCK ? 0 : err;
	}

	if (cfs_withdrawn(sbi))
		return -EIO;
	req.command = cpu_to_le32(CFS_PLOCK_LOCK);
	req.flags = cpu_to_le32((cfs_fl_type(fl) == F_WRLCK ? CFS_PLF_WRITE : 0) |
				(flags & FL_SLEEP ? CFS_PLF_WAIT : 0));
	err = cfs_plock_call(cl, &req, &ev, flags & FL_SLEEP);
	if (err == -ECANCELED)
		return -EINTR;
	if (err)
		return err;
	/* lockd arbitrated: locally nothing conflicts, this records it. */
	err = locks_lock_file_wait(file, fl);
	if (err) {
		pr_err_ratelimited("clusterfs (%s): recording a granted fcntl lock failed (%d): giving it back\n",
				   sbi->sb->s_id, err);
		req.command = cpu_to_le32(CFS_PLOCK_UNLOCK);
		req.flags = 0;
		cfs_plock_call(cl, &req, &ev, false);
	}
	return err;
}

static int cfs_cluster_hello(struct fs_context *fc)
{
	long left;
	int status;

	left = wait_event_killable_timeout(cfs_lockd.callq,
					   READ_ONCE(cfs_lockd.hello_status) != -EINPROGRESS,
					   CFS_HELLO_WAIT);
	if (left < 0)
		return -EINTR;
	status = READ_ONCE(cfs_lockd.hello_status);
	switch (status) {
	case 0:
		return 0;
	case -ENOTCONN:
		return errorfc(fc, "no clusterfs_lockd is running on this node (nothing has /dev/clusterfs_lock open): start it (systemctl start clusterfs_lockd) and mount again"),
		       -ENOTCONN;
	case -EINPROGRESS:
		return errorfc(fc, "clusterfs_lockd opened /dev/clusterfs_lock but did not answer the protocol handshake in %d s: it is too old or hung",
			       CFS_HELLO_WAIT / HZ), -EPROTO;
	default:
		return errorfc(fc, "clusterfs_lockd speaks lock protocol revisions %u-%u, this module %u-%u: install matching versions of clusterfs.ko and clusterfs_lockd",
			       cfs_lockd.lockd_rev_min, cfs_lockd.lockd_rev_max,
			       CFS_LOCKPROTO_KERNEL_REVISION, CFS_LOCKPROTO_KERNEL_REVISION), -EPROTONOSUPPORT;
	}
}

static int cfs_cluster_join(struct cfs_cluster *cl, struct fs_context *fc)
{
	struct cfs_sb_info *sbi = cl->sbi;
	struct cfs_lock_req_join req = {};
	struct cfs_lock_ev_joined joined = {};
	int err, status;

	cfs_header_init(&req.hdr, CFS_LOCK_REQ_JOIN, sizeof(req));
	strscpy_pad(req.lockspace, sbi->locktable, sizeof(req.lockspace));
	req.journal_count = cpu_to_le32(sbi->journals);
	cl->generation = READ_ONCE(cfs_lockd.generation);
	err = cfs_lockd_call(&req, sizeof(req), CFS_LOCK_EV_JOINED, &joined, sizeof(joined), cl);
	if (err == -ENOTCONN)
		return errorfc(fc, "clusterfs_lockd went away while joining lockspace %s", sbi->locktable), err;
	if (err == -ETIMEDOUT)
		return errorfc(fc, "clusterfs_lockd did not answer the join of lockspace %s in %d s (waiting for fencing or quorum? see its log)",
			       sbi->locktable, CFS_CALL_WAIT / HZ), err;
	if (err)
		return err;
	status = (s32)le32_to_cpu(joined.status);
	switch (status) {
	case 0:
		break;
	case -ENOLCK:
		return errorfc(fc, "this node is not quorate (corosync): no cluster lock can be taken; wait for quorum and mount again"),
		       -ENOLCK;
	case -ENOSPC:
		return errorfc(fc, "all %u journals of %s are in use by other mounts: add one with clusterfs_tool jadd",
			       sbi->journals, sbi->sb->s_id), -EUSERS;
	case -EXDEV:
		return errorfc(fc, "lock table \"%s\": its cluster name is not corosync's cluster_name on this node (clusterfs_lockd's log names both); mkfs.clusterfs -t or clusterfs_tool tune sets it",
			       sbi->locktable), -EXDEV;
	default:
		return errorfc(fc, "clusterfs_lockd refused to join lockspace %s (%d)", sbi->locktable, status),
		       status;
	}
	spin_lock(&cfs_lockd.lock);
	cl->lockspace_id = le32_to_cpu(joined.lockspace_id);
	cl->node_id = le32_to_cpu(joined.node_id);
	/* lockd closed and reopened the device while we waited: this join is void. */
	if (cl->generation != cfs_lockd.generation)
		cl->dead = true;
	cl->joined = true;
	spin_unlock(&cfs_lockd.lock);
	sbi->journal_slot = le32_to_cpu(joined.journal_slot);
	if (cl->dead)
		return errorfc(fc, "clusterfs_lockd restarted while joining lockspace %s", sbi->locktable),
		       -ENOTCONN;
	if (sbi->journal_slot >= sbi->journals)
		return errorfc(fc, "clusterfs_lockd gave journal slot %u of %u", sbi->journal_slot,
			       sbi->journals), -EPROTO;
	return 0;
}

static void cfs_cluster_free(struct cfs_sb_info *sbi)
{
	struct cfs_cluster *cl = sbi->cluster;

	spin_lock(&cfs_lockd.lock);
	list_del(&cl->list);
	cl->mounted = false;
	cl->dead = true;	/* no withdraw queues the hand-over any more */
	spin_unlock(&cfs_lockd.lock);
	synchronize_rcu();
	cancel_work_sync(&cl->recover_work);
	flush_work(&cl->withdraw_work);
	WARN_ON_ONCE(!xa_empty(&cl->locks));
	xa_destroy(&cl->locks);
	bitmap_free(cl->recover);
	kfree(cl);
	sbi->cluster = NULL;
}

/*
 * Leaves the lockspace once. A withdrawn mount does not release its locks (LEAVE): once
 * nothing more of it can reach the disk it sends WITHDRAWN, and lockd keeps what it held
 * in PW/EX pinned to its journal, which another node replays (as for a dead node, but
 * without fencing: this node vouches for itself). Its lock state is then dead here.
 */
static void cfs_cluster_depart(struct cfs_cluster *cl)
{
	struct cfs_sb_info *sbi = cl->sbi;
	struct cfs_lock_req_leave req = {};
	struct cfs_lock_ev_reply reply = {};
	bool withdrawn;
	int err;

	mutex_lock(&cl->depart_mutex);
	if (!cl->joined || READ_ONCE(cl->dead))
		goto out;
	withdrawn = cfs_withdrawn(sbi);
	if (withdrawn)
		cfs_host_quiesce(&sbi->host);
	cfs_header_init(&req.hdr, withdrawn ? CFS_LOCK_REQ_WITHDRAWN : CFS_LOCK_REQ_LEAVE, sizeof(req));
	req.lockspace_id = cpu_to_le32(cl->lockspace_id);
	err = cfs_lockd_call(&req, sizeof(req), CFS_LOCK_EV_REPLY, &reply, sizeof(reply), NULL);
	if (!err)
		err = (s32)le32_to_cpu(reply.status);
	if (err)
		pr_warn("clusterfs (%s): leaving lockspace %s%s: %d\n", sbi->sb->s_id,
			sbi->locktable, withdrawn ? " after a withdraw" : "", err);
	else if (withdrawn)
		pr_err("clusterfs (%s): withdrawn: left lockspace %s; another node replays journal %u before anything this node held is given away\n",
		       sbi->sb->s_id, sbi->locktable, sbi->journal_slot);
	spin_lock(&cfs_lockd.lock);
	cl->joined = false;
	if (withdrawn && !cl->dead) {
		cl->dead = true;
		cfs_cluster_fail_requests_locked(cl);
		wake_up_all(&cl->wait);
	}
	spin_unlock(&cfs_lockd.lock);
out:
	mutex_unlock(&cl->depart_mutex);
}

static void cfs_cluster_withdraw_work(struct work_struct *work)
{
	cfs_cluster_depart(container_of(work, struct cfs_cluster, withdraw_work));
}

/* Called by cfs_withdraw (any context, perhaps under cfs_lockd.lock): queues the hand-over. */
void cfs_cluster_withdrawn(struct cfs_sb_info *sbi)
{
	struct cfs_cluster *cl;

	/* RCU: cfs_cluster_free waits for us before it flushes the work and frees. */
	rcu_read_lock();
	cl = READ_ONCE(sbi->cluster);
	if (cl && READ_ONCE(cl->joined) && !READ_ONCE(cl->dead))
		queue_work(system_long_wq, &cl->withdraw_work);
	rcu_read_unlock();
}

int cfs_cluster_mount(struct cfs_sb_info *sbi, struct fs_context *fc)
{
	struct cfs_cluster *cl;
	int err;

	cl = kzalloc(sizeof(*cl), GFP_KERNEL);
	if (!cl)
		return -ENOMEM;
	cl->recover = bitmap_zalloc(sbi->journals, GFP_KERNEL);
	if (!cl->recover) {
		kfree(cl);
		return -ENOMEM;
	}
	cl->sbi = sbi;
	xa_init_flags(&cl->locks, XA_FLAGS_ALLOC1);
	init_waitqueue_head(&cl->wait);
	INIT_WORK(&cl->recover_work, cfs_cluster_recover_work);
	INIT_WORK(&cl->reclaim_work, cfs_cluster_reclaim_work);
	INIT_WORK(&cl->withdraw_work, cfs_cluster_withdraw_work);
	mutex_init(&cl->depart_mutex);
	spin_lock(&cfs_lockd.lock);
	list_add_tail(&cl->list, &cfs_lockd.mounts);
	spin_unlock(&cfs_lockd.lock);
	sbi->cluster = cl;

	err = cfs_cluster_hello(fc);
	if (!err)
		err = cfs_cluster_join(cl, fc);
	if (err) {
		cfs_cluster_depart(cl);
		cfs_cluster_free(sbi);
	}
	return err;
}

void cfs_cluster_mounted(struct cfs_sb_info *sbi)
{
	struct cfs_cluster *cl = sbi->cluster;

	spin_lock(&cfs_lockd.lock);
	cl->mounted = true;
	if (cl->dead)
		cfs_withdraw(sbi, "clusterfs_lockd went away while mounting: this node no longer holds the filesystem's cluster locks");
	spin_unlock(&cfs_lockd.lock);
	/* A dead node's journal lockd gave us with the join is replayed before mount returns. */
	flush_work(&cl->recover_work);
}

void cfs_cluster_unmount(struct cfs_sb_info *sbi)
{
	struct cfs_cluster *cl = sbi->cluster;

	if (!cl)
		return;
	spin_lock(&cfs_lockd.lock);
	cl->mounted = false;
	spin_unlock(&cfs_lockd.lock);
	cancel_work_sync(&cl->recover_work);
	cfs_cluster_stop_reclaim(sbi);	/* a recovery may have queued one after the first stop */
	cfs_cluster_depart(cl);
	cfs_cluster_free(sbi);
}
