// SPDX-License-Identifier: GPL-2.0
/*
 * clusterfs.ko entry points: module init/exit and the filesystem type.
 */
#include <linux/fs.h>
#include <linux/init.h>
#include <linux/module.h>

#include "selftest.h"

static struct file_system_type clusterfs_fs_type = {
	.owner		= THIS_MODULE,
	.name		= "clusterfs",
	.kill_sb	= kill_block_super,
	.fs_flags	= FS_REQUIRES_DEV,
};
MODULE_ALIAS_FS("clusterfs");

static int __init clusterfs_init(void)
{
	int err;

	err = clusterfs_cxx_selftest();
	if (err) {
		pr_err("clusterfs: C++ runtime self-test failed (%d), not loading\n", err);
		return err;
	}
	err = register_filesystem(&clusterfs_fs_type);
	if (err)
		return err;
	pr_info("clusterfs: loaded\n");
	return 0;
}

static void __exit clusterfs_exit(void)
{
	unregister_filesystem(&clusterfs_fs_type);
}

module_init(clusterfs_init);
module_exit(clusterfs_exit);

MODULE_DESCRIPTION("clusterfs shared-disk cluster filesystem");
MODULE_LICENSE("GPL");
