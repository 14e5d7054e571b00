// SPDX-License-Identifier: GPL-2.0
/*
 * clusterfs.ko entry points: module init/exit and the filesystem type.
 */
#include <linux/fs.h>
#include <linux/init.h>
#include <linux/module.h>

#include "clusterfs.h"
#include "lock_cluster.h"
#include "selftest.h"

static int __init clusterfs_init(void)
{
	int err;

	err = clusterfs_cxx_selftest();
	if (err) {
		pr_err("clusterfs: C++ runtime self-test failed (%d), not loading\n", err);
		return err;
	}
	err = cfs_glock_init();
	if (err)
		return err;
	err = cfs_glock_selftest();
	if (err) {
		pr_err("clusterfs: glock self-test failed (%d), not loading\n", err);
		goto out_glock;
	}
	err = cfs_init_inode_cache();
	if (err)
		goto out_glock;
	err = cfs_lock_cluster_init();
	if (err)
		goto out_inode_cache;
	err = register_filesystem(&clusterfs_fs_type);
	if (err)
		goto out_lock_cluster;
	pr_info("clusterfs: loaded\n");
	return 0;

out_lock_cluster:
	cfs_lock_cluster_exit();
out_inode_cache:
	cfs_destroy_inode_cache();
out_glock:
	cfs_glock_exit();
	return err;
}

static void __exit clusterfs_exit(void)
{
	unregister_filesystem(&clusterfs_fs_type);
	cfs_lock_cluster_exit();
	cfs_destroy_inode_cache();
	cfs_glock_exit();
}

module_init(clusterfs_init);
module_exit(clusterfs_exit);

MODULE_DESCRIPTION("clusterfs shared-disk cluster filesystem");
MODULE_LICENSE("GPL");
