// SPDX-License-Identifier: GPL-2.0
/*
 * Load-time self-test of the glock state machine with a scripted lock module: caching
 * after the last holder, EX covering SH, a blocking callback deferred while a holder
 * remains, demotion running go_sync only when leaving EX and go_inval when leaving for
 * UN. lock_nolock never calls back, so without this the demotion path would run for the
 * first time with the cluster lock module.
 */
#include <linux/slab.h>

#include "clusterfs.h"

static struct {
	int lock_calls;
	enum cfs_glock_state last_request;
	int syncs;
	int invals;
} cfs_gst;

static void cfs_gst_lock(struct cfs_glock *gl, enum cfs_glock_state state)
{
	cfs_gst.lock_calls++;
	cfs_gst.last_request = state;
	cfs_glock_complete(gl, state, 0);
}

static const struct cfs_lock_module cfs_gst_module = {
	.name = "selftest",
	.lm_lock = cfs_gst_lock,
};

static int cfs_gst_sync(struct cfs_glock *gl)
{
	cfs_gst.syncs++;
	return 0;
}

static void cfs_gst_inval(struct cfs_glock *gl)
{
	cfs_gst.invals++;
}

static const struct cfs_glock_operations cfs_gst_ops = {
	.name = "selftest",
	.go_sync = cfs_gst_sync,
	.go_inval = cfs_gst_inval,
};

#define GST_CHECK(cond)								\
	do {									\
		if (!(cond)) {							\
			pr_err("clusterfs: glock self-test failed: %s (line %d)\n",	\
			       #cond, __LINE__);					\
			err = -EINVAL;						\
			goto out;						\
		}								\
	} while (0)

int cfs_glock_selftest(void)
{
	struct cfs_sb_info *sbi;
	struct cfs_holder gh;
	struct cfs_glock *gl = NULL;
	int err;

	memset(&cfs_gst, 0, sizeof(cfs_gst));
	sbi = kzalloc(sizeof(*sbi), GFP_KERNEL);
	if (!sbi)
		return -ENOMEM;
	err = cfs_glock_table_init(&sbi->glocks, &cfs_gst_module);
	if (err)
		goto out_free;
	gl = cfs_glock_get(sbi, CFS_GLT_META, 1);
	if (IS_ERR(gl)) {
		err = PTR_ERR(gl);
		gl = NULL;
		goto out;
	}
	gl->gl_ops = &cfs_gst_ops;
	GST_CHECK(cfs_glock_get(sbi, CFS_GLT_META, 1) == gl);	/* same object */
	cfs_glock_put(gl);

	/* EX is requested once, then cached after the holder leaves. */
	err = cfs_glock_nq(gl, CFS_GL_EX, &gh);
	GST_CHECK(!err && cfs_gst.lock_calls == 1 && cfs_gst.last_request == CFS_GL_EX);
	cfs_glock_dq(&gh);
	GST_CHECK(gl->gl_state == CFS_GL_EX);

	/* A glock held EX by the node serves a shared holder without the lock module. */
	err = cfs_glock_nq(gl, CFS_GL_SH, &gh);
	GST_CHECK(!err && cfs_gst.lock_calls == 1);

	/* Another node wants it: nothing happens while our holder is there... */
	cfs_glock_callback(gl, CFS_GL_UN);
	flush_workqueue(sbi->glocks.demote_wq);
	GST_CHECK(cfs_gst.syncs == 0 && gl->gl_state == CFS_GL_EX);
	/* ...then write back (leaving EX), drop the cache, release. */
	cfs_glock_dq(&gh);
	flush_workqueue(sbi->glocks.demote_wq);
	GST_CHECK(cfs_gst.syncs == 1 && cfs_gst.invals == 1);
	GST_CHECK(gl->gl_state == CFS_GL_UN && cfs_gst.last_request == CFS_GL_UN);

	/* SH again; a callback asking for SH leaves it alone, UN demotes without a sync. */
	err = cfs_glock_nq(gl, CFS_GL_SH, &gh);
	GST_CHECK(!err && gl->gl_state == CFS_GL_SH && cfs_gst.lock_calls == 3);
	cfs_glock_dq(&gh);
	cfs_glock_callback(gl, CFS_GL_SH);
	flush_workqueue(sbi->glocks.demote_wq);
	GST_CHECK(gl->gl_state == CFS_GL_SH && cfs_gst.lock_calls == 3);
	cfs_glock_callback(gl, CFS_GL_UN);
	flush_workqueue(sbi->glocks.demote_wq);
	GST_CHECK(gl->gl_state == CFS_GL_UN && cfs_gst.syncs == 1 && cfs_gst.invals == 2);

	/* The last put of a held glock releases it through the module. */
	err = cfs_glock_nq(gl, CFS_GL_EX, &gh);
	GST_CHECK(!err && gl->gl_state == CFS_GL_EX);
	cfs_glock_dq(&gh);
	cfs_glock_put(gl);
	gl = NULL;
	GST_CHECK(cfs_gst.last_request == CFS_GL_UN && cfs_gst.syncs == 2 && cfs_gst.invals == 3);
	GST_CHECK(atomic_read(&sbi->glocks.count) == 0);
	err = 0;
out:
	if (gl)
		cfs_glock_put(gl);
	cfs_glock_table_destroy(&sbi->glocks);
out_free:
	kfree(sbi);
	return err;
}
