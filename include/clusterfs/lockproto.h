/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * clusterfs lock protocol: the messages between a lock client (the clusterfs kernel
 * module through /dev/clusterfs_lock, clusterfs_tool and tests through the unix socket
 * /run/clusterfs/lockd.sock) and the node's clusterfs_lockd.
 *
 * Every message starts with struct cfs_lock_header. All integers are little-endian and
 * fixed-width; structures have no implicit padding, so the same bytes mean the same
 * thing in C, C++, 32- and 64-bit builds. A receiver checks magic, version and that
 * `length` matches the size of the message type before trusting any other field.
 *
 * Requests go down (client -> lockd), events come up (lockd -> client). Every request
 * carries a client-chosen `seq` that lockd echoes in the event completing it (JOINED,
 * COMPLETE, REPLY, ADMIN_REPLY). GRANT-type completions of queued requests, blocking
 * callbacks, RECOVER_JOURNAL and WITHDRAW are unsolicited: their seq is 0.
 */
#ifndef CLUSTERFS_LOCKPROTO_H
#define CLUSTERFS_LOCKPROTO_H

#ifdef __KERNEL__
#include <linux/types.h>
typedef __u8 cfs_u8;
typedef __le16 cfs_le16;
typedef __le32 cfs_le32;
typedef __le64 cfs_le64;
#else
#include <stdint.h>
typedef uint8_t cfs_u8;
typedef uint16_t cfs_le16; /* stored little-endian */
typedef uint32_t cfs_le32; /* stored little-endian */
typedef uint64_t cfs_le64; /* stored little-endian */
#endif

#ifdef __cplusplus
#define CFS_LOCKPROTO_ASSERT(cond, msg) static_assert(cond, msg)
#else
#define CFS_LOCKPROTO_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif

#define CFS_LOCKPROTO_MAGIC 0x4b434c43u /* "CLCK" as little-endian bytes */
#define CFS_LOCKPROTO_VERSION 1u

#define CFS_LOCKSPACE_NAME_MAX 64 /* "cluster:fsname", NUL-padded */
#define CFS_RESOURCE_NAME_MAX 64  /* opaque bytes, length given separately */
#define CFS_LVB_SIZE 32
#define CFS_ADMIN_TEXT_MAX (1u << 20) /* bound on an ADMIN_REPLY payload */

/* Default path of lockd's unix socket (root only). */
#define CFS_LOCKD_SOCKET_PATH "/run/clusterfs/lockd.sock"

/*
 * Journal locks: lockd itself takes "journal/<N>" (N in ASCII decimal) in EX for a
 * joining mount (its journal slot) and for the survivor told to replay a dead node's
 * journal N. Clients must not request names starting with this prefix.
 */
#define CFS_JOURNAL_LOCK_PREFIX "journal/"

/* Lock modes: the DLM's, with the DLM's numbering. */
enum cfs_lock_mode {
	CFS_LOCK_NL = 0, /* null: holds a place, grants nothing */
	CFS_LOCK_CR = 1, /* concurrent read */
	CFS_LOCK_CW = 2, /* concurrent write (GFS2's deferred: direct I/O) */
	CFS_LOCK_PR = 3, /* protected read (shared) */
	CFS_LOCK_PW = 4, /* protected write */
	CFS_LOCK_EX = 5, /* exclusive */
	CFS_LOCK_MODE_COUNT = 6,
};
#define CFS_LOCK_IV 0xffffffffu /* "no mode": the lock does not exist (any more) */

/* Message types. */
enum cfs_lock_msg_type {
	/* requests */
	CFS_LOCK_REQ_JOIN = 1,      /* struct cfs_lock_req_join -> JOINED */
	CFS_LOCK_REQ_LEAVE = 2,     /* struct cfs_lock_req_leave -> REPLY */
	CFS_LOCK_REQ_LOCK = 3,      /* struct cfs_lock_req_lock -> COMPLETE */
	CFS_LOCK_REQ_CONVERT = 4,   /* struct cfs_lock_req_lock (name unused) -> COMPLETE */
	CFS_LOCK_REQ_UNLOCK = 5,    /* struct cfs_lock_req_lock (name, mode unused) -> COMPLETE */
	CFS_LOCK_REQ_CANCEL = 6,    /* struct cfs_lock_req_lock (name, mode unused), see below */
	CFS_LOCK_REQ_RECOVERED = 7, /* struct cfs_lock_req_recovered -> REPLY (-EINVAL: not assigned) */
	CFS_LOCK_REQ_ADMIN = 8,     /* struct cfs_lock_req_admin -> ADMIN_REPLY */
	CFS_LOCK_REQ_HELLO = 9,     /* struct cfs_lock_hello -> HELLO (see below) */
	CFS_LOCK_REQ_WITHDRAWN = 10, /* struct cfs_lock_req_leave -> REPLY (revision 2) */
	CFS_LOCK_REQ_PLOCK = 11,    /* struct cfs_lock_req_plock -> PLOCK (revision 3), see below */
	/* events */
	CFS_LOCK_EV_JOINED = 64,      /* struct cfs_lock_ev_joined */
	CFS_LOCK_EV_COMPLETE = 65,    /* struct cfs_lock_ev_complete */
	CFS_LOCK_EV_BAST = 66,        /* struct cfs_lock_ev_bast */
	CFS_LOCK_EV_RECOVER = 67,     /* struct cfs_lock_ev_recover */
	CFS_LOCK_EV_WITHDRAW = 68,    /* struct cfs_lock_ev_withdraw */
	CFS_LOCK_EV_REPLY = 69,       /* struct cfs_lock_ev_reply */
	CFS_LOCK_EV_ADMIN_REPLY = 70, /* struct cfs_lock_ev_admin_reply + text */
	CFS_LOCK_EV_HELLO = 71,       /* struct cfs_lock_hello: lockd's answer */
	CFS_LOCK_EV_PLOCK = 72,       /* struct cfs_lock_ev_plock */
};

/* cfs_lock_req_lock.flags */
#define CFS_LKF_NOQUEUE 0x1u /* fail with -EAGAIN instead of queueing; no blocking callbacks */
#define CFS_LKF_VALBLK 0x2u  /* read the LVB on grant; write it on down-convert/unlock from PW/EX */

/* cfs_lock_ev_complete.flags */
#define CFS_LKE_LVB_PRESENT 0x1u /* lvb holds the resource's value block */
#define CFS_LKE_LVB_INVALID 0x2u /* a PW/EX holder died before writing it: contents are stale */

/* cfs_lock_req_admin.command */
enum cfs_lock_admin_command {
	CFS_ADMIN_DUMP_LOCKS = 1,   /* JSON of the lock table(s); lockspace "" = all */
	CFS_ADMIN_DUMP_CLUSTER = 2, /* JSON of membership, quorum, recovery state */
	CFS_ADMIN_FENCE_ACK = 3,    /* declare node `arg` fenced by hand (lockspace "" = all) */
};

#define CFS_ADMIN_TEXT 0x1u

/* cfs_lock_ev_withdraw.reason */
enum cfs_lock_withdraw_reason {
	CFS_WITHDRAW_COROSYNC_LOST = 1, /* the local corosync died: lockd is exiting */
	CFS_WITHDRAW_REFUSED = 2,       /* the cluster refused this node's stale state */
	CFS_WITHDRAW_SHUTDOWN = 3,      /* lockd was asked to stop */
	CFS_WITHDRAW_INQUORATE = 4,     /* this node lost quorum: the quorate side fences it */
};

#define CFS_LOCKSPACE_ALL 0xffffffffu
#define CFS_NO_JOURNAL 0xffffffffu

struct cfs_lock_header {
	cfs_le32 magic;   /* CFS_LOCKPROTO_MAGIC */
	cfs_le16 version; /* CFS_LOCKPROTO_VERSION */
	cfs_le16 type;    /* enum cfs_lock_msg_type */
	cfs_le32 length;  /* bytes of the whole message, header included */
	cfs_le32 seq;     /* request sequence, echoed in its completion; 0 in unsolicited events */
};

/*
 * Version handshake. The kernel sends REQ_HELLO as the first message on
 * /dev/clusterfs_lock when lockd opens it, with the range of protocol revisions it
 * speaks; lockd answers EV_HELLO with the revision both use (min = max = chosen) and
 * status 0, or status -EPROTONOSUPPORT and its own range when the ranges do not meet.
 * A kernel that got no usable HELLO refuses lock_cluster mounts, naming both ranges.
 * Socket clients (tools) may skip the handshake: they get revision 1.
 * `features` are CFS_LOCK_FEAT_* bits; the answer holds the bits both sides know.
 */
#define CFS_LOCKPROTO_REVISION_MIN 1u
#define CFS_LOCKPROTO_REVISION_MAX 3u
/*
 * Revision 2 adds REQ_WITHDRAWN: the mount stopped writing (withdraw) and leaves the
 * lockspace without releasing what it may have dirtied: lockd pins its PW/EX locks to its
 * journal and has another mount replay it. The kernel needs it: it speaks only 2.
 */
/*
 * Revision 3 adds REQ_PLOCK/EV_PLOCK: POSIX (fcntl) byte-range locks, cluster-wide.
 */
#define CFS_LOCKPROTO_KERNEL_REVISION 3u

struct cfs_lock_hello {
	struct cfs_lock_header hdr;
	cfs_le32 status;	/* 0 in a request; 0 or -EPROTONOSUPPORT in the answer */
	cfs_le16 revision_min;
	cfs_le16 revision_max;
	cfs_le64 features;	/* reserved: 0 */
};

/* Join the lockspace (mount). lockd creates the CPG group on the node's first join. */
struct cfs_lock_req_join {
	struct cfs_lock_header hdr;
	char lockspace[CFS_LOCKSPACE_NAME_MAX]; /* NUL-padded "cluster:fsname" */
	cfs_le32 journal_count;                 /* journals in the filesystem (slots 0..n-1);
						   0: no journal (tools), never told to recover */
	cfs_le32 flags;                         /* reserved, 0 */
};

struct cfs_lock_ev_joined {
	struct cfs_lock_header hdr;
	cfs_le32 status;       /* 0 or negative errno (-ENOSPC: no free journal) */
	cfs_le32 lockspace_id; /* handle for the other requests on this connection */
	cfs_le32 node_id;      /* corosync node id of this node */
	cfs_le32 journal_slot; /* journal this mount owns (its journal lock is held EX),
				  CFS_NO_JOURNAL if it joined with journal_count 0 */
};

struct cfs_lock_req_leave {
	struct cfs_lock_header hdr;
	cfs_le32 lockspace_id;
	cfs_le32 reserved;
};

/*
 * LOCK creates lock `lock_id` (chosen by the client, unique on its connection) on
 * resource `name` in `mode`. CONVERT changes its mode, UNLOCK removes it, CANCEL
 * withdraws its queued request or conversion: the queued request completes with
 * -ECANCELED; if nothing is queued any more (the grant already went up) CANCEL has no
 * effect and produces no event.
 */
struct cfs_lock_req_lock {
	struct cfs_lock_header hdr;
	cfs_le32 lockspace_id;
	cfs_le32 flags; /* CFS_LKF_* */
	cfs_le64 lock_id;
	cfs_le32 mode; /* enum cfs_lock_mode */
	cfs_le32 name_len;
	cfs_u8 name[CFS_RESOURCE_NAME_MAX];
	cfs_u8 lvb[CFS_LVB_SIZE]; /* written with VALBLK on down-convert/unlock from PW/EX */
};

/*
 * Completion of LOCK/CONVERT/UNLOCK (and of a request withdrawn by CANCEL).
 * status: 0; -EAGAIN (NOQUEUE and not grantable at once); -EDEADLK (conversion
 * deadlock: the lock keeps its mode); -ECANCELED; -ENOLCK (node inquorate);
 * -EBUSY (unlock/convert of a lock with a request in progress); -ENOENT; -EINVAL.
 * mode: the lock's granted mode after the operation, CFS_LOCK_IV if it does not exist.
 */
struct cfs_lock_ev_complete {
	struct cfs_lock_header hdr;
	cfs_le32 lockspace_id;
	cfs_le32 status;
	cfs_le64 lock_id;
	cfs_le32 mode;
	cfs_le32 flags; /* CFS_LKE_* */
	cfs_u8 lvb[CFS_LVB_SIZE];
};

/* Another node (or lock) waits for `mode` on a resource this lock holds incompatibly. */
struct cfs_lock_ev_bast {
	struct cfs_lock_header hdr;
	cfs_le32 lockspace_id;
	cfs_le32 mode; /* the mode requested by the blocked lock */
	cfs_le64 lock_id;
};

/* This mount holds journal `journal`'s lock EX and must replay it, then send RECOVERED. */
struct cfs_lock_ev_recover {
	struct cfs_lock_header hdr;
	cfs_le32 lockspace_id;
	cfs_le32 journal;
	cfs_le32 dead_node_id;
	cfs_le32 reserved;
};

struct cfs_lock_req_recovered {
	struct cfs_lock_header hdr;
	cfs_le32 lockspace_id;
	cfs_le32 journal;
};

/* Stop writing: every lock of the lockspace (CFS_LOCKSPACE_ALL: all) is lost. */
struct cfs_lock_ev_withdraw {
	struct cfs_lock_header hdr;
	cfs_le32 lockspace_id;
	cfs_le32 reason; /* enum cfs_lock_withdraw_reason */
};

struct cfs_lock_ev_reply {
	struct cfs_lock_header hdr;
	cfs_le32 status; /* 0 or negative errno */
	cfs_le32 reserved;
};

struct cfs_lock_req_admin {
	struct cfs_lock_header hdr;
	cfs_le32 command; /* enum cfs_lock_admin_command */
	cfs_le32 arg; /* FENCE_ACK: node id; DUMP_*: CFS_ADMIN_TEXT for a human-readable table */
	char lockspace[CFS_LOCKSPACE_NAME_MAX];
};

/* Followed by text_len bytes of UTF-8 (JSON for the dumps, a message on error). */
struct cfs_lock_ev_admin_reply {
	struct cfs_lock_header hdr;
	cfs_le32 status;
	cfs_le32 text_len;
};

/*
 * POSIX byte-range locks (fcntl F_SETLK, F_SETLKW, F_GETLK), as dlm_controld's plocks:
 * lockd keeps every lockspace's plocks in a table all members replicate (CPG agreed
 * order), so every node sees the same holders and waiters. A lock is owned by
 * (mount, `owner`); locks of one owner never conflict with each other, and a LOCK or
 * UNLOCK of a range replaces or removes exactly that range of the owner's locks
 * (splitting and merging as POSIX says). Ranges are inclusive; `end` UINT64_MAX means
 * "to the end of the file, however long it grows".
 *
 * LOCK: granted at once if no other owner holds an overlapping lock where either is a
 * write lock; else -EAGAIN, or with CFS_PLF_WAIT the request queues (FIFO per file) and
 * its EV_PLOCK comes when it is granted (status 0), cancelled (-ECANCELED) or found to
 * close a cycle of waiting owners (-EDEADLK, at once, queueing nothing).
 * UNLOCK: always succeeds (nothing held in the range is fine); queued waiters it unblocks
 * are granted in order.
 * GET: answers with the first lock of another owner that conflicts with the range in the
 * asked type (flags CFS_PLF_FOUND, plus CFS_PLF_WRITE for a write lock, its range, pid
 * and node id), or flags 0 when there is none. Answered from the node's own copy.
 * CANCEL: withdraws this mount's queued LOCK whose request seq is `cancel_seq`; that
 * LOCK then completes with -ECANCELED. If it is no longer queued (its answer is on the
 * way) CANCEL does nothing. CANCEL itself is never answered.
 *
 * A mount that leaves (or withdraws) loses its plocks at once; a dead node's plocks are
 * kept (blocking others) until it is fenced, then dropped; its queued requests vanish.
 */
enum cfs_plock_command {
	CFS_PLOCK_LOCK = 1,
	CFS_PLOCK_UNLOCK = 2,
	CFS_PLOCK_GET = 3,
	CFS_PLOCK_CANCEL = 4,
};

#define CFS_PLF_WRITE 0x1u /* a write (exclusive) lock; else a read (shared) lock */
#define CFS_PLF_WAIT 0x2u  /* LOCK: queue until grantable instead of -EAGAIN */
#define CFS_PLF_FOUND 0x4u /* GET answer: a conflicting lock was found */

#define CFS_PLOCK_END_MAX 0xffffffffffffffffull

struct cfs_lock_req_plock {
	struct cfs_lock_header hdr;
	cfs_le32 lockspace_id;
	cfs_le32 command;    /* enum cfs_plock_command */
	cfs_le64 number;     /* the file: its inode number */
	cfs_le64 owner;      /* opaque, unique among this mount's lock owners */
	cfs_le64 start;      /* first byte */
	cfs_le64 end;        /* last byte (inclusive), >= start */
	cfs_le32 pid;        /* the locking process, as GET reports it to other nodes */
	cfs_le32 flags;      /* CFS_PLF_WRITE, CFS_PLF_WAIT */
	cfs_le32 cancel_seq; /* CANCEL: seq of the queued LOCK to withdraw; else 0 */
	cfs_le32 reserved;
};

/*
 * Answer to a LOCK, UNLOCK or GET (hdr.seq: the request's seq, also for a LOCK answered
 * after waiting). status: 0; -EAGAIN; -EDEADLK; -ECANCELED; -ENOLCK (node inquorate
 * or lockspace withdrawn); -EINVAL (malformed: end < start, unknown command).
 * For GET, the conflicting lock (flags CFS_PLF_FOUND | CFS_PLF_WRITE?).
 */
struct cfs_lock_ev_plock {
	struct cfs_lock_header hdr;
	cfs_le32 lockspace_id;
	cfs_le32 status;
	cfs_le64 number;
	cfs_le64 start;
	cfs_le64 end;
	cfs_le32 pid;
	cfs_le32 node_id;    /* GET: node holding the conflicting lock */
	cfs_le32 flags;      /* GET: CFS_PLF_FOUND, CFS_PLF_WRITE */
	cfs_le32 reserved;
};

CFS_LOCKPROTO_ASSERT(sizeof(struct cfs_lock_header) == 16, "header size");
CFS_LOCKPROTO_ASSERT(sizeof(struct cfs_lock_req_join) == 88, "join size");
CFS_LOCKPROTO_ASSERT(sizeof(struct cfs_lock_ev_joined) == 32, "joined size");
CFS_LOCKPROTO_ASSERT(sizeof(struct cfs_lock_req_leave) == 24, "leave size");
CFS_LOCKPROTO_ASSERT(sizeof(struct cfs_lock_req_lock) == 136, "lock size");
CFS_LOCKPROTO_ASSERT(sizeof(struct cfs_lock_ev_complete) == 72, "complete size");
CFS_LOCKPROTO_ASSERT(sizeof(struct cfs_lock_ev_bast) == 32, "bast size");
CFS_LOCKPROTO_ASSERT(sizeof(struct cfs_lock_ev_recover) == 32, "recover size");
CFS_LOCKPROTO_ASSERT(sizeof(struct cfs_lock_req_recovered) == 24, "recovered size");
CFS_LOCKPROTO_ASSERT(sizeof(struct cfs_lock_ev_withdraw) == 24, "withdraw size");
CFS_LOCKPROTO_ASSERT(sizeof(struct cfs_lock_ev_reply) == 24, "reply size");
CFS_LOCKPROTO_ASSERT(sizeof(struct cfs_lock_req_admin) == 88, "admin size");
CFS_LOCKPROTO_ASSERT(sizeof(struct cfs_lock_ev_admin_reply) == 24, "admin reply size");
CFS_LOCKPROTO_ASSERT(sizeof(struct cfs_lock_hello) == 32, "hello size");
CFS_LOCKPROTO_ASSERT(sizeof(struct cfs_lock_req_plock) == 72, "plock request size");
CFS_LOCKPROTO_ASSERT(sizeof(struct cfs_lock_ev_plock) == 64, "plock answer size");

#endif /* CLUSTERFS_LOCKPROTO_H */
