// SPDX-License-Identifier: GPL-2.0
/*
 * C half of the C++ runtime: the allocator behind operator new/delete and the handlers
 * for calls through a pure or deleted virtual function.
 */
#include <linux/bug.h>
#include <linux/log2.h>
#include <linux/printk.h>
#include <linux/slab.h>

#include "cxx_support.h"

void *clusterfs_cxx_alloc(size_t size, size_t align)
{
	if (WARN_ON_ONCE(!is_power_of_2(align) || align > PAGE_SIZE))
		return NULL;
	if (!size)
		size = 1;
	/*
	 * kmalloc aligns power-of-two sizes naturally but only guarantees
	 * ARCH_KMALLOC_MINALIGN (8 bytes) for others; round up when more is needed.
	 */
	if (align > ARCH_KMALLOC_MINALIGN) {
		if (size < align)
			size = align;
		if (!is_power_of_2(size)) {
			if (size > KMALLOC_MAX_SIZE / 2)
				return NULL;
			size = roundup_pow_of_two(size);
		}
	}
	return kmalloc(size, GFP_NOFS);
}

void clusterfs_cxx_free(void *ptr)
{
	kfree(ptr);
}

void clusterfs_cxx_log_info(const char *msg)
{
	pr_info("clusterfs: %s\n", msg);
}

void clusterfs_cxx_log_error(const char *msg)
{
	pr_err("clusterfs: %s\n", msg);
}

void __cxa_pure_virtual(void)
{
	pr_emerg("clusterfs: call through a pure virtual function\n");
	BUG();
}

void __cxa_deleted_virtual(void)
{
	pr_emerg("clusterfs: call through a deleted virtual function\n");
	BUG();
}
