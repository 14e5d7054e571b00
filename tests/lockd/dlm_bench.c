/*
 * dlm_bench: the kernel DLM's figures for the operations of lockd's benchmark, through
 * libdlm (dlm_controld must run). Prints the same lines as lockd_test_client's bench
 * modes so the two can be tabulated together.
 *   dlm_bench acquire COUNT            first acquire (EX, new resource) and NL->EX re-acquire
 *   dlm_bench pingpong RESOURCE COUNT  run on two nodes: EX, hold until bast, release
 *   dlm_bench throughput SECONDS       lock+unlock cycles, one in flight
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/types.h>

#include <libdlm.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOCKSPACE "lockdbench"

static dlm_lshandle_t ls;
static volatile int basted;

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void die(const char *what)
{
	fprintf(stderr, "dlm_bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void percentiles(const char *what, double *us, int n)
{
	if (n <= 0)
		return;
	qsort(us, n, sizeof(*us), cmp);
#define PCT(p) us[(int)((p) * n) < n ? (int)((p) * n) : n - 1]
	printf("%s: n=%d p50=%.0fus p90=%.0fus p99=%.0fus\n", what, n, PCT(0.5), PCT(0.9), PCT(0.99));
	fflush(stdout);
}

static void on_bast(void *arg)
{
	(void)arg;
	basted = 1;
}

static void lock_wait(int mode, struct dlm_lksb *lksb, unsigned flags, const char *name)
{
	if (dlm_ls_lock_wait(ls, mode, lksb, flags, name, strlen(name), 0, NULL, on_bast, NULL) < 0 ||
	    lksb->sb_status)
		die("dlm_ls_lock_wait");
}

static void unlock_wait(struct dlm_lksb *lksb)
{
	if (dlm_ls_unlock_wait(ls, lksb->sb_lkid, 0, lksb) < 0)
		die("dlm_ls_unlock_wait");
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: dlm_bench acquire COUNT | pingpong RESOURCE COUNT | throughput SECONDS\n");
		return 2;
	}
	ls = dlm_create_lockspace(LOCKSPACE, 0600);
	/* Without udev (the VM harness) the lockspace's misc device appears as
	 * /dev/dlm_NAME (devtmpfs) while libdlm opens /dev/misc/dlm_NAME: link it. */
	for (int tries = 0; !ls && errno == ENOENT && tries < 100; tries++) {
		if (access("/dev/dlm_" LOCKSPACE, F_OK) == 0) {
			if (symlink("../dlm_" LOCKSPACE, "/dev/misc/dlm_" LOCKSPACE) < 0 && errno != EEXIST)
				die("symlink /dev/misc/dlm_" LOCKSPACE);
			ls = dlm_open_lockspace(LOCKSPACE);
			break;
		}
		usleep(50000);
	}
	if (!ls)
		die("dlm_create_lockspace");
	if (dlm_ls_pthread_init(ls))
		die("dlm_ls_pthread_init");
	char name[64];
	struct dlm_lksb lksb;
	if (!strcmp(argv[1], "acquire")) {
		int count = atoi(argv[2]);
		double *first = calloc(count, sizeof(double)), *again = calloc(count, sizeof(double));
		for (int i = 0; i < count; i++) {
			snprintf(name, sizeof(name), "bench-%d-%d", getpid(), i);
			memset(&lksb, 0, sizeof(lksb));
			double t = now_us();
			lock_wait(LKM_EXMODE, &lksb, 0, name);
			first[i] = now_us() - t;
			unlock_wait(&lksb);
		}
		snprintf(name, sizeof(name), "bench-%d-cached", getpid());
		memset(&lksb, 0, sizeof(lksb));
		lock_wait(LKM_NLMODE, &lksb, 0, name);
		for (int i = 0; i < count; i++) {
			double t = now_us();
			lock_wait(LKM_EXMODE, &lksb, LKF_CONVERT, name);
			again[i] = now_us() - t;
			lock_wait(LKM_NLMODE, &lksb, LKF_CONVERT, name);
		}
		percentiles("first-acquire", first, count);
		percentiles("reacquire-NL-to-EX", again, count);
	} else if (!strcmp(argv[1], "pingpong") && argc >= 4) {
		int count = atoi(argv[3]);
		double *handoff = calloc(count, sizeof(double));
		int n = 0;
		for (int i = 0; i < count; i++) {
			memset(&lksb, 0, sizeof(lksb));
			basted = 0;
			double t = now_us();
			lock_wait(LKM_EXMODE, &lksb, 0, argv[2]);
			if (i > 0)
				handoff[n++] = now_us() - t;
			/* Hold until the peer asks, bounded in case it has finished. */
			for (double start = now_us(); !basted && i < count - 1 && now_us() - start < 5e6;)
				usleep(20);
			unlock_wait(&lksb);
		}
		percentiles("handoff", handoff, n);
	} else if (!strcmp(argv[1], "throughput")) {
		double seconds = atof(argv[2]), start = now_us(), end = start + seconds * 1e6;
		long ops = 0;
		snprintf(name, sizeof(name), "tp-%d", getpid());
		while (now_us() < end) {
			memset(&lksb, 0, sizeof(lksb));
			lock_wait(LKM_EXMODE, &lksb, 0, name);
			unlock_wait(&lksb);
			ops += 2;
		}
		double elapsed = (now_us() - start) / 1e6;
		printf("throughput: ops=%ld seconds=%.2f ops_per_s=%.0f\n", ops, elapsed, ops / elapsed);
	} else {
		fprintf(stderr, "dlm_bench: unknown mode %s\n", argv[1]);
		return 2;
	}
	return 0;
}
