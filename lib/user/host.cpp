// Userspace implementation of lib/env.h (see host.h).
#include "host.h"

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <ctime>
#include <fcntl.h>
#include <linux/fs.h>
#include <list>
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <unordered_map>
#include <vector>

#include "clusterfs/format.h"
#include "crc32c.h"

struct cfs_buf {
	cfs_host *host;
	uint64_t blkno;
	uint8_t *data;
	unsigned refs;
	bool valid;      // contents match the device (or were set by get_new)
	bool verified;
	std::list<cfs_buf *>::iterator lru_pos;  // valid while refs == 0
};

struct cfs_host {
	int fd = -1;
	bool read_only = false;
	bool direct = false;
	uint64_t dev_size = 0;
	uint32_t bsize = 0;
	size_t cache_limit = 0;
	std::unordered_map<uint64_t, cfs_buf *> cache;
	std::list<cfs_buf *> lru;  // unreferenced buffers, least recently used first
	size_t held = 0;
	int write_error = 0;
	cfs::user::LogSink sink = nullptr;
	void *sink_ctx = nullptr;
	int max_level = CFS_LOG_NOTICE;
	cfs::user::HostStats stats{};
	cfs::user::WriteObserver write_observer = nullptr;
	void *write_observer_ctx = nullptr;
};

struct cfs_mutex {
	pthread_mutex_t m;
};
struct cfs_spin {
	pthread_spinlock_t s;
};

namespace {

constexpr size_t kAlign = 4096;

void *aligned_block(size_t size)
{
	void *p = nullptr;
	if (posix_memalign(&p, kAlign, size))
		return nullptr;
	return p;
}

// Full pread/pwrite with retries on short transfers and EINTR; O_DIRECT through an
// aligned bounce buffer when the caller's buffer is not aligned.
int io_full(cfs_host *h, bool write, uint64_t off, void *buf, size_t len)
{
	void *bounce = nullptr;
	uint8_t *p = static_cast<uint8_t *>(buf);
	if (h->direct && (reinterpret_cast<uintptr_t>(buf) % kAlign)) {
		bounce = aligned_block(len);
		if (!bounce)
			return -ENOMEM;
		if (write)
			memcpy(bounce, buf, len);
		p = static_cast<uint8_t *>(bounce);
	}
	size_t done = 0;
	int err = 0;
	while (done < len) {
		ssize_t n = write ? pwrite(h->fd, p + done, len - done, off + done)
				  : pread(h->fd, p + done, len - done, off + done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		if (n == 0) {
			err = -EIO;  // read past the end of the device
			break;
		}
		done += size_t(n);
	}
	if (bounce) {
		if (!err && !write)
			memcpy(buf, bounce, len);
		free(bounce);
	}
	return err;
}

void drop_buffer(cfs_host *h, cfs_buf *b)
{
	h->cache.erase(b->blkno);
	free(b->data);
	delete b;
}

void evict(cfs_host *h)
{
	while (h->lru.size() > h->cache_limit) {
		cfs_buf *b = h->lru.front();
		h->lru.pop_front();
		drop_buffer(h, b);
	}
}

cfs_buf *lookup_or_create(cfs_host *h, uint64_t blkno)
{
	auto it = h->cache.find(blkno);
	if (it != h->cache.end()) {
		cfs_buf *b = it->second;
		if (b->refs++ == 0) {  // unreferenced: leaves the LRU
			h->lru.erase(b->lru_pos);
			h->held++;
		}
		return b;
	}
	auto *b = new (std::nothrow) cfs_buf{};
	if (!b)
		return nullptr;
	b->data = static_cast<uint8_t *>(aligned_block(h->bsize));
	if (!b->data) {
		delete b;
		return nullptr;
	}
	b->host = h;
	b->blkno = blkno;
	b->refs = 1;
	h->held++;
	h->cache.emplace(blkno, b);
	return b;
}

}  // namespace

namespace cfs::user {

int host_open(const char *path, const HostOptions &opts, cfs_host **out, const char **why)
{
	*out = nullptr;
	int flags = (opts.read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	if (opts.direct)
		flags |= O_DIRECT;
	struct stat st;
	if (stat(path, &st) < 0) {
		if (why)
			*why = "cannot access the device";
		return -errno;
	}
	if (S_ISBLK(st.st_mode) && opts.exclusive)
		flags |= O_EXCL;
	if (!S_ISBLK(st.st_mode) && !S_ISREG(st.st_mode)) {
		if (why)
			*why = "not a block device or a regular file";
		return -EINVAL;
	}
	int fd = open(path, flags);
	if (fd < 0) {
		int err = -errno;
		if (why)
			*why = err == -EBUSY ? "the device is in use (mounted?)" : "cannot open the device";
		return err;
	}
	uint64_t size = 0;
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, &size) < 0) {
			int err = -errno;
			close(fd);
			if (why)
				*why = "cannot read the block device's size";
			return err;
		}
	} else {
		size = uint64_t(st.st_size);
	}
	auto *h = new (std::nothrow) cfs_host{};
	if (!h) {
		close(fd);
		return -ENOMEM;
	}
	h->fd = fd;
	h->read_only = opts.read_only;
	h->direct = opts.direct;
	h->dev_size = size;
	h->cache_limit = opts.cache_blocks;
	*out = h;
	return 0;
}

void host_close(cfs_host *h)
{
	if (!h)
		return;
	if (h->held)
		fprintf(stderr, "clusterfs: %zu metadata buffers still referenced at close\n", h->held);
	for (auto &entry : h->cache) {
		free(entry.second->data);
		delete entry.second;
	}
	if (h->fd >= 0)
		close(h->fd);
	delete h;
}

size_t host_held_buffers(const cfs_host *h) { return h->held; }
int host_fd(const cfs_host *h) { return h->fd; }
uint32_t host_block_size(const cfs_host *h) { return h->bsize; }

void host_set_log(cfs_host *h, LogSink sink, void *ctx, int max_level)
{
	h->sink = sink;
	h->sink_ctx = ctx;
	h->max_level = max_level;
}

HostStats host_stats(const cfs_host *h) { return h->stats; }

void host_set_write_observer(cfs_host *h, WriteObserver observer, void *ctx)
{
	h->write_observer = observer;
	h->write_observer_ctx = ctx;
}

}  // namespace cfs::user

extern "C" {

void *cfs_env_alloc(cfs_host *, size_t size, unsigned flags)
{
	if (flags & CFS_ALLOC_ZERO)
		return calloc(1, size ? size : 1);
	return malloc(size ? size : 1);
}

void cfs_env_free(cfs_host *, void *ptr) { free(ptr); }

int cfs_env_set_block_size(cfs_host *h, uint32_t block_size)
{
	if (block_size != 1024 && block_size != 2048 && block_size != 4096)
		return -EINVAL;
	if (block_size == h->bsize)
		return 0;
	if (h->held)
		return -EBUSY;
	while (!h->lru.empty()) {
		cfs_buf *b = h->lru.front();
		h->lru.pop_front();
		drop_buffer(h, b);
	}
	h->bsize = block_size;
	return 0;
}

uint64_t cfs_env_dev_size(cfs_host *h) { return h->dev_size; }

int cfs_env_buf_read(cfs_host *h, uint64_t blkno, cfs_buf **out)
{
	*out = nullptr;
	if (!h->bsize)
		return -EINVAL;
	if (blkno >= h->dev_size / h->bsize)
		return -ERANGE;
	cfs_buf *b = lookup_or_create(h, blkno);
	if (!b)
		return -ENOMEM;
	if (b->valid) {
		h->stats.cache_hits++;
	} else {
		int err = io_full(h, false, blkno * h->bsize, b->data, h->bsize);
		h->stats.reads++;
		if (err) {
			cfs_env_buf_release(h, b);
			return err;
		}
		b->valid = true;
		b->verified = false;
	}
	*out = b;
	return 0;
}

int cfs_env_buf_get_new(cfs_host *h, uint64_t blkno, cfs_buf **out)
{
	*out = nullptr;
	if (!h->bsize)
		return -EINVAL;
	if (blkno >= h->dev_size / h->bsize)
		return -ERANGE;
	cfs_buf *b = lookup_or_create(h, blkno);
	if (!b)
		return -ENOMEM;
	memset(b->data, 0, h->bsize);
	b->valid = true;
	b->verified = false;
	*out = b;
	return 0;
}

void *cfs_env_buf_data(cfs_buf *b) { return b->data; }
uint64_t cfs_env_buf_blkno(const cfs_buf *b) { return b->blkno; }

void cfs_env_buf_hold(cfs_host *h, cfs_buf *b)
{
	if (b->refs++ == 0) {
		h->lru.erase(b->lru_pos);
		h->held++;
	}
}

void cfs_env_buf_release(cfs_host *h, cfs_buf *b)
{
	if (--b->refs)
		return;
	h->held--;
	if (!b->valid) {
		drop_buffer(h, b);
		return;
	}
	h->lru.push_back(b);
	b->lru_pos = std::prev(h->lru.end());
	evict(h);
}

int cfs_env_buf_verified(const cfs_buf *b) { return b->verified; }
void cfs_env_buf_set_verified(cfs_buf *b, int verified) { b->verified = verified != 0; }

void cfs_env_buf_invalidate(cfs_host *, cfs_buf *b)
{
	b->valid = false;
	b->verified = false;
}

int cfs_env_buf_write(cfs_host *h, cfs_buf *b, unsigned flags)
{
	if (h->read_only)
		return -EROFS;
	if (flags & CFS_IO_PREFLUSH && fdatasync(h->fd) < 0)
		return -errno;
	if (h->write_observer)
		h->write_observer(h->write_observer_ctx, b->blkno, b->data);
	int err = io_full(h, true, b->blkno * h->bsize, b->data, h->bsize);
	h->stats.writes++;
	if (!err && (flags & CFS_IO_FUA) && fdatasync(h->fd) < 0)
		err = -errno;
	if (err && !h->write_error)
		h->write_error = err;
	return err;
}

int cfs_env_sync(cfs_host *h)
{
	int err = h->write_error;
	h->write_error = 0;
	if (!h->read_only && fdatasync(h->fd) < 0 && !err)
		err = -errno;
	return err;
}

int cfs_env_dev_read(cfs_host *h, uint64_t off, void *dst, size_t len)
{
	if (off % 512 || len % 512)
		return -EINVAL;
	if (off > h->dev_size || len > h->dev_size - off)
		return -ERANGE;
	h->stats.reads++;
	return io_full(h, false, off, dst, len);
}

int cfs_env_log_write(cfs_host *h, uint64_t blkno, const void *const *blocks, unsigned count,
		      unsigned flags)
{
	if (h->read_only)
		return -EROFS;
	if (!h->bsize || blkno + count > h->dev_size / h->bsize)
		return -ERANGE;
	if ((flags & CFS_IO_PREFLUSH) && fdatasync(h->fd) < 0)
		return -errno;
	// One write for the whole run: gather the blocks into one aligned buffer (a memcpy
	// costs far less than a system call per block).
	const size_t bytes = size_t(count) * h->bsize;
	auto *run = static_cast<uint8_t *>(aligned_block(bytes));
	if (!run)
		return -ENOMEM;
	for (unsigned i = 0; i < count; i++)
		memcpy(run + size_t(i) * h->bsize, blocks[i], h->bsize);
	int err = io_full(h, true, blkno * h->bsize, run, bytes);
	free(run);
	h->stats.writes++;
	if (err)
		return err;
	if ((flags & CFS_IO_FUA) && fdatasync(h->fd) < 0)
		return -errno;
	return 0;
}

int cfs_env_blocks_read(cfs_host *h, uint64_t blkno, void *dst, unsigned count)
{
	if (!h->bsize || blkno + count > h->dev_size / h->bsize)
		return -ERANGE;
	h->stats.reads++;
	return io_full(h, false, blkno * h->bsize, dst, size_t(count) * h->bsize);
}

int cfs_env_ordered_data_flush(cfs_host *h)
{
	// Tools write file data with pwrite on the same descriptor; make it durable before
	// the commit that points at it.
	if (h->read_only)
		return 0;
	return fdatasync(h->fd) < 0 ? -errno : 0;
}

__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const uint8_t *p,
							     size_t len)
{
	uint64_t c = crc;
	while (len >= 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		c = __builtin_ia32_crc32di(c, v);
		p += 8;
		len -= 8;
	}
	uint32_t c32 = uint32_t(c);
	while (len--)
		c32 = __builtin_ia32_crc32qi(c32, *p++);
	return c32;
}

uint32_t cfs_env_crc32c(uint32_t crc, const void *p, size_t len)
{
#if defined(__x86_64__)
	if (__builtin_cpu_supports("sse4.2"))
		return crc32c_hw(crc, static_cast<const uint8_t *>(p), len);
#endif
	return cfs::crc32c_sw(crc, p, len);
}

void cfs_env_now(cfs_host *, cfs_timespec *ts)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	ts->sec = now.tv_sec;
	ts->nsec = uint32_t(now.tv_nsec);
}

void cfs_env_log(cfs_host *h, int level, const char *fmt, ...)
{
	if (h && level > h->max_level && !h->sink)
		return;
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (h && h->sink) {
		if (level <= h->max_level)
			h->sink(h->sink_ctx, level, msg);
		return;
	}
	fprintf(stderr, "clusterfs: %s\n", msg);
}

int cfs_env_mutex_create(cfs_host *, cfs_mutex **out)
{
	auto *m = new (std::nothrow) cfs_mutex;
	if (!m)
		return -ENOMEM;
	pthread_mutex_init(&m->m, nullptr);
	*out = m;
	return 0;
}
void cfs_env_mutex_destroy(cfs_host *, cfs_mutex *m)
{
	pthread_mutex_destroy(&m->m);
	delete m;
}
void cfs_env_mutex_lock(cfs_mutex *m) { pthread_mutex_lock(&m->m); }
void cfs_env_mutex_unlock(cfs_mutex *m) { pthread_mutex_unlock(&m->m); }

int cfs_env_spin_create(cfs_host *, cfs_spin **out)
{
	auto *s = new (std::nothrow) cfs_spin;
	if (!s)
		return -ENOMEM;
	pthread_spin_init(&s->s, PTHREAD_PROCESS_PRIVATE);
	*out = s;
	return 0;
}
void cfs_env_spin_destroy(cfs_host *, cfs_spin *s)
{
	pthread_spin_destroy(&s->s);
	delete s;
}
void cfs_env_spin_lock(cfs_spin *s) { pthread_spin_lock(&s->s); }
void cfs_env_spin_unlock(cfs_spin *s) { pthread_spin_unlock(&s->s); }

}  // extern "C"
