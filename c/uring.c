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
 * take only i32 arguments through FFI. The handle table is the one piece of
 * global state in libmcr; a mutex guards open/close/notify (never the hot
 * path, which only the owning worker thread uses).
 */
#include <liburing.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
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
	int polled[MAX_POLLED]; /* fds with an armed poll; -1 = free slot */
	int retry[MAX_POLLED];  /* TX fds whose kick found the send buffer full (EAGAIN) */
	int nretry;
	unsigned queued_kicks;
	int32_t kicks_ok;
	int32_t kicks_failed;
	int32_t last_errno;
	int32_t poll_errors;
	int32_t kicks_deferred;
};

static struct waiter *table[MAX_WAITERS];
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;

static inline struct waiter *get(int h)
{
	return (h >= 0 && h < MAX_WAITERS) ? table[h] : NULL;
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

static int arm_poll(struct waiter *w, int fd, int kind)
{
	struct io_uring_sqe *sqe = next_sqe(w);

	if (sqe == NULL)
		return -EBUSY;
	io_uring_prep_poll_multishot(sqe, fd, POLLIN);
	io_uring_sqe_set_data64(sqe, tag(kind, fd));
	return 0;
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
				w->kicks_ok++;
			} else if (cqe->res == -EAGAIN || cqe->res == -ENOBUFS) {
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
			if (!(cqe->flags & IORING_CQE_F_MORE))
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
			if (!(cqe->flags & IORING_CQE_F_MORE) && is_polled(w, fd))
				arm_poll(w, fd, KIND_POLL);
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
	w->eventfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->eventfd < 0) {
		err = __mcr_neg_errno();
		goto err_ring;
	}
	if ((err = arm_poll(w, w->eventfd, KIND_EVENTFD)) < 0)
		goto err_efd;
	io_uring_submit(&w->ring);

	pthread_mutex_lock(&table_lock);
	for (h = 0; h < MAX_WAITERS && table[h] != NULL; h++)
		;
	if (h < MAX_WAITERS)
		table[h] = w;
	pthread_mutex_unlock(&table_lock);
	if (h == MAX_WAITERS) {
		err = -EMFILE;
		goto err_efd;
	}
	return h;
err_efd:
	close(w->eventfd);
err_ring:
	io_uring_queue_exit(&w->ring);
	free(w);
	return err;
}

MCR_EXPORT MCR_COLD int mcr_waiter_add_fd(int h, int fd)
{
	struct waiter *w = get(h);
	int i;

	if (w == NULL)
		return -EBADF;
	if (is_polled(w, fd))
		return 0;
	for (i = 0; i < MAX_POLLED && w->polled[i] != -1; i++)
		;
	if (i == MAX_POLLED)
		return -ENOSPC;
	w->polled[i] = fd;
	return arm_poll(w, fd, KIND_POLL) < 0 ? -EBUSY : 0;
}

MCR_EXPORT MCR_COLD int mcr_waiter_remove_fd(int h, int fd)
{
	struct waiter *w = get(h);
	struct io_uring_sqe *sqe;

	if (w == NULL)
		return -EBADF;
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

/* Queues again the kicks that found a full send buffer. */
static void requeue_deferred(struct waiter *w)
{
	int n = w->nretry;

	w->nretry = 0;
	for (int i = 0; i < n; i++) {
		struct io_uring_sqe *sqe = next_sqe(w);
		if (sqe == NULL)
			break;
		io_uring_prep_send(sqe, w->retry[i], NULL, 0, MSG_DONTWAIT);
		io_uring_sqe_set_data64(sqe, tag(KIND_SEND, w->retry[i]));
	}
}

MCR_EXPORT int mcr_waiter_wait(int h, int timeout_ms)
{
	struct waiter *w = get(h);
	struct __kernel_timespec ts;
	struct io_uring_cqe *cqe;
	int rc;

	if (w == NULL)
		return -EBADF;
	/* Deferred kicks are retried, and the wait is short while any are pending. */
	if (w->nretry > 0) {
		requeue_deferred(w);
		if (timeout_ms > 1)
			timeout_ms = 1;
	}
	/* Completions already there (sends, polls that fired meanwhile): no need to sleep. */
	if (io_uring_cq_ready(&w->ring) == 0) {
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

MCR_EXPORT int mcr_waiter_queue_kick(int h, int fd)
{
	struct waiter *w = get(h);
	struct io_uring_sqe *sqe;

	if (w == NULL)
		return -EBADF;
	sqe = next_sqe(w);
	if (sqe == NULL)
		return -EBUSY;
	io_uring_prep_send(sqe, fd, NULL, 0, MSG_DONTWAIT);
	io_uring_sqe_set_data64(sqe, tag(KIND_SEND, fd));
	w->queued_kicks++;
	return 0;
}

MCR_EXPORT int mcr_waiter_submit(int h)
{
	struct waiter *w = get(h);
	int rc = 0;

	if (w == NULL)
		return -EBADF;
	if (w->nretry > 0)
		requeue_deferred(w);
	if (io_uring_sq_ready(&w->ring) > 0)
		rc = io_uring_submit(&w->ring);
	w->queued_kicks = 0;
	if (io_uring_cq_ready(&w->ring) > 0)
		reap(w);
	return rc;
}

MCR_EXPORT int mcr_waiter_notify(int h)
{
	uint64_t one = 1;
	int rc = -EBADF;

	pthread_mutex_lock(&table_lock);
	if (get(h) != NULL)
		rc = write(table[h]->eventfd, &one, sizeof(one)) == sizeof(one) ? 0 : __mcr_neg_errno();
	pthread_mutex_unlock(&table_lock);
	return rc;
}

MCR_EXPORT int mcr_waiter_stats(int h, int32_t *out)
{
	struct waiter *w = get(h);

	if (w == NULL)
		return -EBADF;
	out[0] = w->kicks_ok;
	out[1] = w->kicks_failed;
	out[2] = w->last_errno;
	out[3] = w->poll_errors;
	out[4] = w->kicks_deferred;
	w->kicks_ok = w->kicks_failed = w->last_errno = w->poll_errors = w->kicks_deferred = 0;
	return 0;
}

MCR_EXPORT MCR_COLD int mcr_waiter_close(int h)
{
	struct waiter *w;

	pthread_mutex_lock(&table_lock);
	w = get(h);
	if (w != NULL)
		table[h] = NULL;
	pthread_mutex_unlock(&table_lock);
	if (w == NULL)
		return -EBADF;
	io_uring_queue_exit(&w->ring);
	close(w->eventfd);
	free(w);
	return 0;
}

MCR_EXPORT int mcr_liburing_version(void)
{
	return MCR_URING_MAJOR * 1000 + MCR_URING_MINOR;
}
