/*
 * Arenas: one reserved range of address space per worker, in which every
 * ring and batch area of that worker is mapped (so TypeScript sees them all
 * through one ArrayBuffer), plus the list of what is mapped and open there.
 *
 * Ownership: the worker thread maps, unmaps and closes what it owns through
 * its arena handle. If the thread is stuck, the supervisor FENCES the arena
 * (mcr_arena_fence): every socket's fd is replaced by a /dev/null descriptor
 * (so the socket is released by the kernel and leaves its fanout group, and
 * the fd number can never be reused under the stuck thread's feet) and every
 * mapping is covered with anonymous zero pages (a late read sees zeros, a
 * late write lands in private memory: never a fault). The address range
 * itself is never unmapped: views over it exist for the process lifetime.
 * A fenced arena refuses every later call, so a thread that wakes up later
 * cannot map or close anything in it.
 *
 * Arenas are named by small integer handles; the table only grows (at most
 * MAX_ARENAS). An arena whose owner stopped normally is empty and can be
 * handed to the next worker (mcr_arena_open reuses it); a fenced one never is.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"
#include "mcr.h"

#define MAX_ARENAS 64
#define MAX_ITEMS 1024

struct item {
	int fd;          /* socket, or -1 for plain memory */
	uint32_t offset; /* where its mapping starts */
	uint32_t len;    /* bytes mapped (0: a socket without a mapping) */
};

struct arena {
	uint64_t base;
	uint64_t size;
	pthread_mutex_t lock; /* guards everything below */
	int fenced;
	int in_use;           /* handed to a worker and not returned */
	int nitems;
	struct item items[MAX_ITEMS];
};

static struct arena *_Atomic arenas[MAX_ARENAS];
static pthread_mutex_t arenas_lock = PTHREAD_MUTEX_INITIALIZER;

static struct arena *get(int h)
{
	return (h >= 0 && h < MAX_ARENAS) ? atomic_load(&arenas[h]) : NULL;
}

uint64_t __mcr_arena_address(int h, uint32_t offset, uint32_t len)
{
	struct arena *a = get(h);

	if (a == NULL || (uint64_t)offset + len > a->size)
		return 0;
	return a->base + offset;
}

/* Covers [addr, addr+len) with anonymous pages of protection prot (never unmaps the range). */
static void cover(uint64_t addr, uint64_t len, int prot)
{
	mmap((void *)(uintptr_t)addr, len, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
}

MCR_EXPORT MCR_COLD int mcr_arena_open(uint64_t bytes)
{
	struct arena *a;
	void *p;
	int h;

	if (bytes == 0 || bytes % 4096 != 0)
		return -EINVAL;
	pthread_mutex_lock(&arenas_lock);
	/* An empty arena returned by a worker that stopped normally is reused. */
	for (h = 0; h < MAX_ARENAS; h++) {
		a = get(h);
		if (a != NULL && !a->in_use && !a->fenced && a->nitems == 0 && a->size == bytes) {
			a->in_use = 1;
			pthread_mutex_unlock(&arenas_lock);
			return h;
		}
	}
	for (h = 0; h < MAX_ARENAS && get(h) != NULL; h++)
		;
	if (h == MAX_ARENAS) {
		pthread_mutex_unlock(&arenas_lock);
		return -EMFILE;
	}
	a = calloc(1, sizeof(*a));
	if (a == NULL) {
		pthread_mutex_unlock(&arenas_lock);
		return -ENOMEM;
	}
	p = mmap(NULL, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		int err = __mcr_neg_errno();
		free(a);
		pthread_mutex_unlock(&arenas_lock);
		return err;
	}
	a->base = (uint64_t)(uintptr_t)p;
	a->size = bytes;
	a->in_use = 1;
	pthread_mutex_init(&a->lock, NULL);
	atomic_store(&arenas[h], a);
	pthread_mutex_unlock(&arenas_lock);
	return h;
}

MCR_EXPORT MCR_COLD int mcr_arena_base(int h, uint64_t *out_addr)
{
	struct arena *a = get(h);

	if (a == NULL)
		return -EBADF;
	*out_addr = a->base;
	return 0;
}

/* Locks a live arena; NULL (with *err set) if unknown or fenced. */
static struct arena *lock_live(int h, int *err)
{
	struct arena *a = get(h);

	if (a == NULL) {
		*err = -EBADF;
		return NULL;
	}
	pthread_mutex_lock(&a->lock);
	if (a->fenced) {
		pthread_mutex_unlock(&a->lock);
		*err = -ECANCELED;
		return NULL;
	}
	return a;
}

int __mcr_arena_begin(int h, uint32_t offset, uint32_t len, uint64_t *addr)
{
	int err = 0;
	struct arena *a;

	if (len == 0 || (uint64_t)offset + len > (get(h) ? get(h)->size : 0))
		return get(h) ? -EINVAL : -EBADF;
	a = lock_live(h, &err);
	if (a == NULL)
		return err;
	if (a->nitems == MAX_ITEMS) {
		pthread_mutex_unlock(&a->lock);
		return -ENOSPC;
	}
	*addr = a->base + offset;
	return 0; /* the arena stays locked until __mcr_arena_end */
}

void __mcr_arena_end(int h, int fd, uint32_t offset, uint32_t len, int ok)
{
	struct arena *a = get(h);

	if (ok) {
		a->items[a->nitems++] = (struct item){ fd, offset, len };
	}
	pthread_mutex_unlock(&a->lock);
}

void __mcr_arena_uncover(uint64_t addr, uint64_t len)
{
	cover(addr, len, PROT_NONE);
}

MCR_EXPORT MCR_COLD int mcr_arena_map(int h, uint32_t offset, uint32_t len)
{
	uint64_t addr;
	void *p;
	int err = __mcr_arena_begin(h, offset, len, &addr);

	if (err < 0)
		return err;
	p = mmap((void *)(uintptr_t)addr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	err = p == MAP_FAILED ? __mcr_neg_errno() : 0;
	__mcr_arena_end(h, -1, offset, len, err == 0);
	return err;
}

MCR_EXPORT MCR_COLD int mcr_arena_adopt(int h, int fd)
{
	int err = 0;
	struct arena *a = lock_live(h, &err);

	if (a == NULL)
		return err;
	if (a->nitems == MAX_ITEMS) {
		pthread_mutex_unlock(&a->lock);
		return -ENOSPC;
	}
	a->items[a->nitems++] = (struct item){ fd, 0, 0 };
	pthread_mutex_unlock(&a->lock);
	return 0;
}

MCR_EXPORT MCR_COLD int mcr_arena_release(int h, int fd, uint32_t offset)
{
	int err = 0, i;
	struct arena *a = lock_live(h, &err);

	if (a == NULL)
		return err;
	for (i = 0; i < a->nitems; i++) {
		struct item *it = &a->items[i];
		if (it->fd == fd && (fd >= 0 || it->offset == offset))
			break;
	}
	if (i == a->nitems) {
		pthread_mutex_unlock(&a->lock);
		return -ENOENT;
	}
	/* Zero pages, readable and writable: a stale view reads status 0 (kernel-owned) and moves on. */
	if (a->items[i].len != 0)
		cover(a->base + a->items[i].offset, a->items[i].len, PROT_READ | PROT_WRITE);
	if (fd >= 0)
		close(fd);
	a->items[i] = a->items[--a->nitems];
	pthread_mutex_unlock(&a->lock);
	return 0;
}

MCR_EXPORT MCR_COLD int mcr_arena_return(int h)
{
	int err = 0;
	struct arena *a = lock_live(h, &err);

	if (a == NULL)
		return err;
	err = a->nitems == 0 ? 0 : -EBUSY;
	if (err == 0)
		a->in_use = 0;
	pthread_mutex_unlock(&a->lock);
	return err;
}

MCR_EXPORT MCR_COLD int mcr_arena_fence(int h)
{
	struct arena *a = get(h);
	int nullfd, n;

	if (a == NULL)
		return -EBADF;
	/* Never block the caller (the supervisor's event loop) behind a stuck owner. */
	if (pthread_mutex_trylock(&a->lock) != 0)
		return -EBUSY;
	if (a->fenced) {
		pthread_mutex_unlock(&a->lock);
		return 0;
	}
	nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (nullfd < 0) {
		int err = __mcr_neg_errno();
		pthread_mutex_unlock(&a->lock);
		return err;
	}
	a->fenced = 1;
	n = a->nitems;
	for (int i = 0; i < n; i++) {
		struct item *it = &a->items[i];
		if (it->len != 0)
			cover(a->base + it->offset, it->len, PROT_READ | PROT_WRITE);
		/* The fd number stays taken (by /dev/null): the stuck thread can never
		 * reach a socket that someone else opened later under that number. */
		if (it->fd >= 0)
			dup3(nullfd, it->fd, O_CLOEXEC);
	}
	close(nullfd);
	pthread_mutex_unlock(&a->lock);
	return n;
}

MCR_EXPORT int mcr_arena_items(int h)
{
	struct arena *a = get(h);
	int n;

	if (a == NULL)
		return -EBADF;
	if (pthread_mutex_trylock(&a->lock) != 0)
		return -EBUSY;
	n = a->fenced ? -ECANCELED : a->nitems;
	pthread_mutex_unlock(&a->lock);
	return n;
}
