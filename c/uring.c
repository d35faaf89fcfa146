/*
 * The waiter: one io_uring per worker, its single wait point.
 *
 *   - every RX ring socket has a multishot POLLIN armed on it, and so has an
 *     eventfd the supervisor writes to wake the worker (config change, stop);
 *   - TX kicks (IORING_OP_SEND of 0 bytes on a PACKET_TX_RING socket, which
 *     makes the kernel send every frame marked SEND_REQUEST) are queued as
 *     SQEs and submitted together: one io_uring_enter for every TX ring a
 *     batch filled.
 *
 * Waiters are named by small integer handles so that the hot-path calls
 * take only i32 arguments through FFI: handle = generation << 8 | slot, so a
 * handle of a closed waiter never names the next waiter in its slot.
 *
 * Lifetime (the rule: memory a thread can touch is freed only when no thread
 * is inside a call on it). Every call enters the slot (in_call + 1, then the
 * state must still be OPEN for its generation) and leaves it (in_call - 1).
 * mcr_waiter_close and mcr_waiter_fence only mark the slot CLOSED; whichever
 * thread leaves last frees the waiter. So a worker thread stuck inside
 * mcr_waiter_wait keeps its io_uring until it comes back, and the supervisor
 * can fence it at any time without freeing anything under it.
 */
#include <liburing.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"
#include "mcr.h"

#define MAX_WAITERS 256
#define MAX_POLLED 256

/* user_data = kind << 32 | fd */
enum { KIND_EVENTFD = 1, KIND_POLL = 2, KIND_SEND = 3, KIND_REMOVE = 4 };

struct waiter {
	struct io_uring ring;
	int eventfd;
	int polled[MAX_POLLED]; /* RX ring fds watched; -1 = free slot */
	unsigned char armed[MAX_POLLED]; /* a one-shot poll is outstanding for polled[i] */
	int retry[MAX_POLLED];  /* TX fds whose kick found the send buffer full (EAGAIN) */
	int nretry;
	unsigned queued_kicks;
	int32_t kicks_ok;
	int32_t kicks_failed;
	int32_t last_errno;
	int32_t poll_errors;
	int32_t kicks_deferred;
	int skip_ok_cqe;         /* the kernel can skip the CQE of a kick that succeeded */
	atomic_int fenced;       /* set by mcr_waiter_fence: reap never re-arms a poll */
	atomic_int stall_ms;     /* fault injection: the next wait first sleeps this long */
};

/* Slot states, in the low 2 bits of slot.word (the generation is above them). */
enum { S_FREE = 0, S_OPEN = 1, S_CLOSED = 2, S_FREEING = 3 };

struct slot {
	atomic_uint word;    /* generation << 2 | state */
	atomic_int in_call;  /* threads inside a call on this slot (a probe of a closed slot too) */
	atomic_int active;   /* of them, those that entered while it was OPEN: they may use w */
	struct waiter *w;    /* valid while OPEN or CLOSED with a thread inside */
};

static struct slot slots[MAX_WAITERS];
/* Lifetime tallies for tests: [0] waiters freed, [1] of them by a thread leaving a
 * call after close/fence (deferred), [2] freed with a thread inside that may use it
 * (entered while OPEN; must stay 0). A thread that only probes a closed slot (enters,
 * sees it is not OPEN, leaves without touching w) is not counted: it is in in_call
 * for a moment, never in `active`. */
static atomic_int tally[3];

static void destroy(struct waiter *w);

static inline unsigned gen_of(int h)
{
	return (unsigned)h >> 8;
}

/*
 * Called by a thread that has just left a slot (`was` = in_call before its
 * decrement): the last thread out of a CLOSED slot frees the waiter.
 * `deferred`: the thread was inside a call other than the close itself.
 *
 * "Last" is only true at the moment of the decrement: before this thread
 * reserves the slot (CLOSED -> FREEING), another may have entered. A thread
 * that left a slot while it was OPEN (a stale probe of an older generation,
 * say) can find it CLOSED a moment later by a close that is still inside,
 * or while a user entered after the decrement is inside. So after reserving,
 * in_call must still be 0; otherwise the slot goes back to CLOSED and the
 * threads inside free it as they leave (if they all left meanwhile, this
 * thread tries again).
 */
static void free_if_last(struct slot *s, int was, int deferred)
{
	unsigned word;

	if (was != 1)
		return;
	for (;;) {
		word = atomic_load(&s->word);
		if ((word & 3) != S_CLOSED ||
		    !atomic_compare_exchange_strong(&s->word, &word, (word & ~3u) | S_FREEING))
			return;
		if (atomic_load(&s->in_call) == 0)
			break;
		/* Someone is inside: give the slot back to them (they free it on leaving). */
		atomic_store(&s->word, word);
		if (atomic_load(&s->in_call) != 0)
			return;
	}
	if (atomic_load(&s->active) != 0)
		atomic_fetch_add(&tally[2], 1);
	destroy(s->w);
	s->w = NULL;
	atomic_fetch_add(&tally[0], 1);
	if (deferred)
		atomic_fetch_add(&tally[1], 1);
	atomic_store(&s->word, (word & ~3u) | S_FREE);
}

/* Enters the slot of handle h; returns its waiter (call leave()) or NULL. */
static struct waiter *enter(int h, struct slot **out)
{
	struct slot *s;

	if (h < 0 || (h & 0xff) >= MAX_WAITERS)
		return NULL;
	s = &slots[h & 0xff];
	atomic_fetch_add(&s->in_call, 1);
	if (atomic_load(&s->word) != (gen_of(h) << 2 | S_OPEN)) {
		/* Not ours (closed, or another generation): leave at once; a CLOSED
		 * slot we briefly held may now be ours to free. */
		free_if_last(s, atomic_fetch_sub(&s->in_call, 1), 1);
		return NULL;
	}
	atomic_fetch_add(&s->active, 1);
	*out = s;
	return s->w;
}

/* Leaves a slot; the last thread out of a CLOSED slot frees its waiter. */
static void leave(struct slot *s, int deferred)
{
	atomic_fetch_sub(&s->active, 1);
	free_if_last(s, atomic_fetch_sub(&s->in_call, 1), deferred);
}

static inline uint64_t tag(int kind, int fd)
{
	return ((uint64_t)kind << 32) | (uint32_t)fd;
}

static struct io_uring_sqe *next_sqe(struct waiter *w)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);

	if (sqe == NULL) { /* SQ full: push what is queued and try again */
		io_uring_submit(&w->ring);
		sqe = io_uring_get_sqe(&w->ring);
	}
	return sqe;
}

/*
 * The eventfd is watched by a multishot poll (it fires rarely). RX ring
 * sockets get ONE-SHOT polls, armed only when the loop is about to sleep
 * (arm_sleeping_polls): a TPACKET_V2 ring signals every packet, and a poll
 * left armed while the loop is busy would turn each packet into io_uring
 * work (a wake-up and a completion) that nobody waits for.
 */
static int arm_poll(struct waiter *w, int fd, int kind)
{
	struct io_uring_sqe *sqe = next_sqe(w);

	if (sqe == NULL)
		return -EBUSY;
	if (kind == KIND_EVENTFD)
		io_uring_prep_poll_multishot(sqe, fd, POLLIN);
	else
		io_uring_prep_poll_add(sqe, fd, POLLIN);
	io_uring_sqe_set_data64(sqe, tag(kind, fd));
	return 0;
}

/* Arms a one-shot poll on every watched ring that has none outstanding. */
static void arm_sleeping_polls(struct waiter *w)
{
	for (int i = 0; i < MAX_POLLED; i++) {
		if (w->polled[i] == -1 || w->armed[i] || atomic_load(&w->fenced))
			continue;
		if (arm_poll(w, w->polled[i], KIND_POLL) == 0)
			w->armed[i] = 1;
	}
}

static int is_polled(struct waiter *w, int fd)
{
	for (int i = 0; i < MAX_POLLED; i++)
		if (w->polled[i] == fd)
			return 1;
	return 0;
}

/* Handles every completion waiting in the CQ; returns how many were readiness events. */
static int reap(struct waiter *w)
{
	struct io_uring_cqe *cqe;
	unsigned head, seen = 0;
	int ready = 0;

	io_uring_for_each_cqe(&w->ring, head, cqe) {
		uint64_t data = io_uring_cqe_get_data64(cqe);
		int kind = (int)(data >> 32);
		int fd = (int)(uint32_t)data;

		seen++;
		switch (kind) {
		case KIND_SEND:
			if (cqe->res >= 0) {
				if (!w->skip_ok_cqe)
					w->kicks_ok++;
				break;
			}
			if (w->skip_ok_cqe)
				w->kicks_ok--; /* counted as it was queued */
			if (cqe->res == -EAGAIN || cqe->res == -ENOBUFS) {
				/* The socket's send buffer is full of frames still in flight: not
				 * an error. The frames stay SEND_REQUEST; kick again next time. */
				int i;
				w->kicks_deferred++;
				for (i = 0; i < w->nretry && w->retry[i] != fd; i++)
					;
				if (i == w->nretry && w->nretry < MAX_POLLED)
					w->retry[w->nretry++] = fd;
			} else {
				w->kicks_failed++;
				w->last_errno = -cqe->res;
			}
			break;
		case KIND_EVENTFD: {
			uint64_t v;
			ready++;
			while (read(w->eventfd, &v, sizeof(v)) == sizeof(v))
				;
			if (!(cqe->flags & IORING_CQE_F_MORE) && !atomic_load(&w->fenced))
				arm_poll(w, fd, KIND_EVENTFD);
			break;
		}
		case KIND_POLL:
			if (cqe->res > 0 && (cqe->res & POLLERR)) {
				/* A pending socket error (e.g. ENETDOWN after link down) would keep the
				 * poll firing: read it to clear it, and count it. */
				int soerr = 0;
				socklen_t len = sizeof(soerr);
				getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
				w->poll_errors++;
			}
			if (cqe->res >= 0)
				ready++;
			/* One-shot: re-armed by the next wait that is about to sleep. */
			for (int i = 0; i < MAX_POLLED; i++)
				if (w->polled[i] == fd)
					w->armed[i] = 0;
			break;
		default:
			break;
		}
	}
	io_uring_cq_advance(&w->ring, seen);
	return ready;
}

MCR_EXPORT MCR_COLD int mcr_waiter_open(uint32_t entries)
{
	struct waiter *w;
	int h, err;

	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return -ENOMEM;
	for (int i = 0; i < MAX_POLLED; i++)
		w->polled[i] = -1;
	err = io_uring_queue_init(entries ? entries : 256, &w->ring, 0);
	if (err < 0) {
		free(w);
		return err;
	}
	w->skip_ok_cqe = (w->ring.features & IORING_FEAT_CQE_SKIP) != 0;
	w->eventfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->eventfd < 0) {
		err = __mcr_neg_errno();
		goto err_ring;
	}
	if ((err = arm_poll(w, w->eventfd, KIND_EVENTFD)) < 0)
		goto err_efd;
	io_uring_submit(&w->ring);

	for (h = 0; h < MAX_WAITERS; h++) {
		unsigned word = atomic_load(&slots[h].word);
		unsigned gen = (word >> 2) + 1;
		if (gen > 0x7fffff)
			gen = 1;
		/* FREE -> FREEING reserves the slot; then publish the waiter as OPEN. */
		if ((word & 3) == S_FREE &&
		    atomic_compare_exchange_strong(&slots[h].word, &word, (word & ~3u) | S_FREEING)) {
			slots[h].w = w;
			atomic_store(&slots[h].word, gen << 2 | S_OPEN);
			return (int)(gen << 8 | (unsigned)h);
		}
	}
	err = -EMFILE;
	goto err_efd;
err_efd:
	close(w->eventfd);
err_ring:
	io_uring_queue_exit(&w->ring);
	free(w);
	return err;
}

/* Every exported call below runs between enter() and leave(). */
#define ENTER(h)                                   \
	struct slot *slot_;                        \
	struct waiter *w = enter((h), &slot_);     \
	if (w == NULL)                             \
		return -EBADF

static int add_fd(struct waiter *w, int fd)
{
	int i;

	if (is_polled(w, fd))
		return 0;
	for (i = 0; i < MAX_POLLED && w->polled[i] != -1; i++)
		;
	if (i == MAX_POLLED)
		return -ENOSPC;
	w->polled[i] = fd;
	w->armed[i] = 0; /* armed by the next wait */
	return 0;
}

MCR_EXPORT MCR_COLD int mcr_waiter_add_fd(int h, int fd)
{
	ENTER(h);
	int rc = add_fd(w, fd);
	leave(slot_, 0);
	return rc;
}

static int remove_fd(struct waiter *w, int fd)
{
	struct io_uring_sqe *sqe;

	for (int i = 0; i < MAX_POLLED; i++)
		if (w->polled[i] == fd)
			w->polled[i] = -1;
	sqe = next_sqe(w);
	if (sqe == NULL)
		return -EBUSY;
	io_uring_prep_poll_remove(sqe, tag(KIND_POLL, fd));
	io_uring_sqe_set_data64(sqe, tag(KIND_REMOVE, fd));
	io_uring_submit(&w->ring);
	reap(w);
	return 0;
}

MCR_EXPORT MCR_COLD int mcr_waiter_remove_fd(int h, int fd)
{
	ENTER(h);
	int rc = remove_fd(w, fd);
	leave(slot_, 0);
	return rc;
}

/*
 * Queues a TX kick. A kick that succeeds posts no completion where the
 * kernel allows it (IOSQE_CQE_SKIP_SUCCESS, Linux 5.17): a kick still queued
 * when the loop goes to sleep (a retried one) goes out in that same
 * io_uring_enter without waking it again at once, and reap() has less to do.
 */
static int prep_kick(struct waiter *w, int fd)
{
	struct io_uring_sqe *sqe = next_sqe(w);

	if (sqe == NULL)
		return -EBUSY;
	io_uring_prep_send(sqe, fd, NULL, 0, MSG_DONTWAIT);
	io_uring_sqe_set_data64(sqe, tag(KIND_SEND, fd));
	if (w->skip_ok_cqe) {
		io_uring_sqe_set_flags(sqe, IOSQE_CQE_SKIP_SUCCESS);
		w->kicks_ok++;
	}
	return 0;
}

/* Queues again the kicks that found a full send buffer. */
static void requeue_deferred(struct waiter *w)
{
	int n = w->nretry;

	w->nretry = 0;
	for (int i = 0; i < n; i++)
		if (prep_kick(w, w->retry[i]) < 0)
			break;
}

static int wait_ready(struct waiter *w, int timeout_ms)
{
	struct __kernel_timespec ts;
	struct io_uring_cqe *cqe;
	int rc, stall = atomic_exchange(&w->stall_ms, 0);

	if (stall > 0) { /* fault injection: stuck inside native code, holding the waiter */
		struct timespec d = { stall / 1000, (long)(stall % 1000) * 1000000L };
		while (nanosleep(&d, &d) != 0)
			;
	}
	/* Deferred kicks are retried, and the wait is short while any are pending. */
	if (w->nretry > 0) {
		requeue_deferred(w);
		if (timeout_ms > 1)
			timeout_ms = 1;
	}
	/* Completions already there (sends, polls that fired meanwhile): no need to sleep. */
	if (io_uring_cq_ready(&w->ring) == 0) {
		arm_sleeping_polls(w);
		ts.tv_sec = timeout_ms / 1000;
		ts.tv_nsec = (long long)(timeout_ms % 1000) * 1000000;
		rc = io_uring_submit_and_wait_timeout(&w->ring, &cqe, 1, &ts, NULL);
		if (rc < 0 && rc != -ETIME && rc != -EINTR)
			return rc;
	} else if (io_uring_sq_ready(&w->ring) > 0) {
		io_uring_submit(&w->ring);
	}
	w->queued_kicks = 0;
	return reap(w);
}

MCR_EXPORT int mcr_waiter_wait(int h, int timeout_ms)
{
	ENTER(h);
	int rc = wait_ready(w, timeout_ms);
	leave(slot_, 1);
	return rc;
}

/*
 * A nap: submits every queued kick and sleeps up to `us` microseconds
 * without arming the RX polls, so arriving packets do not wake the thread;
 * the control eventfd (and a poll armed by an earlier wait) still do. The
 * loop naps while packets come faster than it would wake for each: one
 * wake-up and one io_uring_enter per nap instead of per packet.
 */
static int nap(struct waiter *w, int us)
{
	struct __kernel_timespec ts;
	struct io_uring_cqe *cqe;
	int rc;

	if (w->nretry > 0)
		requeue_deferred(w);
	w->queued_kicks = 0;
	if (io_uring_cq_ready(&w->ring) > 0) {
		if (io_uring_sq_ready(&w->ring) > 0)
			io_uring_submit(&w->ring);
		return reap(w);
	}
	ts.tv_sec = us / 1000000;
	ts.tv_nsec = (long long)(us % 1000000) * 1000;
	rc = io_uring_submit_and_wait_timeout(&w->ring, &cqe, 1, &ts, NULL);
	if (rc < 0 && rc != -ETIME && rc != -EINTR)
		return rc;
	return reap(w);
}

MCR_EXPORT int mcr_waiter_nap(int h, int us)
{
	ENTER(h);
	int rc = us > 0 ? nap(w, us) : -EINVAL;
	leave(slot_, 1);
	return rc;
}

MCR_EXPORT int mcr_waiter_queue_kick(int h, int fd)
{
	int rc;

	/* No descriptor (a worker's rehearsal, src/dataplane/rehearsal.ts): nothing to kick. */
	if (fd < 0)
		return -EBADF;
	ENTER(h);

	rc = prep_kick(w, fd);
	if (rc == 0)
		w->queued_kicks++;
	leave(slot_, 1);
	return rc;
}

MCR_EXPORT int mcr_waiter_submit(int h)
{
	int rc = 0;
	ENTER(h);

	if (w->nretry > 0)
		requeue_deferred(w);
	if (io_uring_sq_ready(&w->ring) > 0)
		rc = io_uring_submit(&w->ring);
	w->queued_kicks = 0;
	if (io_uring_cq_ready(&w->ring) > 0)
		reap(w);
	leave(slot_, 1);
	return rc;
}

MCR_EXPORT int mcr_waiter_notify(int h)
{
	uint64_t one = 1;
	int rc;
	ENTER(h);

	rc = write(w->eventfd, &one, sizeof(one)) == sizeof(one) ? 0 : __mcr_neg_errno();
	leave(slot_, 1);
	return rc;
}

MCR_EXPORT int mcr_waiter_stats(int h, int32_t *out)
{
	ENTER(h);

	out[0] = w->kicks_ok;
	out[1] = w->kicks_failed;
	out[2] = w->last_errno;
	out[3] = w->poll_errors;
	out[4] = w->kicks_deferred;
	w->kicks_ok = w->kicks_failed = w->last_errno = w->poll_errors = w->kicks_deferred = 0;
	leave(slot_, 1);
	return 0;
}

static void destroy(struct waiter *w)
{
	io_uring_queue_exit(&w->ring);
	close(w->eventfd);
	memset(w, 0x5a, sizeof(*w)); /* poison: a use after this would fault or be seen */
	free(w);
}

/* Marks the slot CLOSED (once); the last thread to leave frees the waiter. */
static int close_slot(int h, int fence)
{
	unsigned open_word = gen_of(h) << 2 | S_OPEN;
	ENTER(h);

	if (fence) {
		/* The owner may be inside wait right now: drop every poll (so the ring
		 * sockets it watched are released) with the register syscall, which
		 * never touches the submission queue the owner uses, then wake it. */
		struct io_uring_sync_cancel_reg reg;
		uint64_t one = 1;

		atomic_store(&w->fenced, 1);
		memset(&reg, 0, sizeof(reg));
		reg.flags = IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL;
		reg.timeout.tv_sec = 0;
		reg.timeout.tv_nsec = 100 * 1000 * 1000;
		io_uring_register_sync_cancel(&w->ring, &reg);
		if (write(w->eventfd, &one, sizeof(one)) < 0) {
			/* nothing to do: the owner also wakes at its wait timeout */
		}
	}
	atomic_compare_exchange_strong(&slot_->word, &open_word, (open_word & ~3u) | S_CLOSED);
	leave(slot_, 0);
	return 0;
}

MCR_EXPORT MCR_COLD int mcr_waiter_close(int h)
{
	return close_slot(h, 0);
}

MCR_EXPORT MCR_COLD int mcr_waiter_fence(int h)
{
	return close_slot(h, 1);
}

MCR_EXPORT int mcr_waiter_state(int h)
{
	unsigned word;

	if (h < 0 || (h & 0xff) >= MAX_WAITERS)
		return -EBADF;
	word = atomic_load(&slots[h & 0xff].word);
	return (word >> 2) == gen_of(h) ? (int)(word & 3) : 0;
}

MCR_EXPORT MCR_COLD int mcr_waiter_stall(int h, int ms)
{
	ENTER(h);
	atomic_store(&w->stall_ms, ms);
	leave(slot_, 0);
	return 0;
}

MCR_EXPORT int mcr_waiter_tally(int32_t *out)
{
	for (int i = 0; i < 3; i++)
		out[i] = atomic_load(&tally[i]);
	return 0;
}

MCR_EXPORT int mcr_liburing_version(void)
{
	return MCR_URING_MAJOR * 1000 + MCR_URING_MINOR;
}
