/*
 * A worker thread stuck inside mcr_waiter_wait is fenced from another thread:
 * nothing it can touch is freed while it is inside (its waiter is freed by
 * the thread itself when it leaves), its handle is dead afterwards, and a
 * fenced arena refuses every later call while its memory stays readable.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
#include "../mcr.h"

static int failures;
#define EXPECT(cond, what) do { if (!(cond)) { fprintf(stderr, "FAIL: %s\n", what); failures++; } } while (0)

static volatile int wait_rc = 12345;

static void *stuck(void *arg)
{
	int h = *(int *)arg;
	wait_rc = mcr_waiter_wait(h, 50); /* sleeps 300 ms inside first (stall) */
	return NULL;
}

static atomic_int probe_h;
static atomic_int probing = 1;

/* Another thread calling on whatever handle is current (the supervisor's notify, a fence retry). */
static void *prober(void *arg)
{
	(void)arg;
	while (atomic_load(&probing))
		mcr_waiter_notify(atomic_load(&probe_h));
	return NULL;
}

static void sleep_ms(int ms)
{
	struct timespec d = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&d, NULL);
}

int main(void)
{
	int32_t t0[3], t1[3];
	pthread_t th;
	uint64_t base = 0;
	int h = mcr_waiter_open(32);

	EXPECT(h >= 0, "waiter opened");
	mcr_waiter_tally(t0);
	EXPECT(mcr_waiter_stall(h, 300) == 0, "stall armed");
	pthread_create(&th, NULL, stuck, &h);
	sleep_ms(100); /* the thread is now inside mcr_waiter_wait */
	EXPECT(mcr_waiter_state(h) == 1, "open while the thread is inside");
	EXPECT(mcr_waiter_fence(h) == 0, "fence from another thread");
	EXPECT(mcr_waiter_state(h) == 2, "closed but held: the stuck thread is still inside");
	mcr_waiter_tally(t1);
	EXPECT(t1[0] == t0[0], "nothing freed while the thread is inside");
	EXPECT(mcr_waiter_notify(h) == -EBADF, "the fenced handle refuses new calls");
	pthread_join(th, NULL);
	EXPECT(wait_rc >= 0, "the stuck call returned normally");
	mcr_waiter_tally(t1);
	EXPECT(t1[0] == t0[0] + 1 && t1[1] == t0[1] + 1, "freed by the stuck thread as it left");
	EXPECT(t1[2] == 0, "never freed with a thread inside");
	EXPECT(mcr_waiter_state(h) == 0, "gone");
	EXPECT(mcr_waiter_wait(h, 0) == -EBADF, "dead handle");

	/* A new waiter in the same slot gets a new handle; the old one stays dead. */
	int h2 = mcr_waiter_open(32);
	EXPECT(h2 >= 0 && h2 != h, "a new handle, never the old one");
	EXPECT(mcr_waiter_notify(h) == -EBADF && mcr_waiter_notify(h2) == 0, "handles do not alias");
	EXPECT(mcr_waiter_close(h2) == 0 && mcr_waiter_state(h2) == 0, "closed with no thread inside: freed at once");

	/* Arena: fence covers and refuses, memory stays readable. */
	int a = mcr_arena_open(1 << 22);
	EXPECT(a >= 0, "arena opened");
	EXPECT(mcr_arena_map(a, 0, 8192) == 0, "plain memory mapped");
	EXPECT(mcr_arena_base(a, &base) == 0 && base != 0, "base");
	((volatile uint8_t *)(uintptr_t)base)[100] = 7;
	int fds[2];
	EXPECT(pipe(fds) == 0, "pipe");
	EXPECT(mcr_arena_adopt(a, fds[0]) == 0, "socket adopted");
	EXPECT(mcr_arena_items(a) == 2, "two items");
	EXPECT(mcr_arena_fence(a) == 2, "fenced two items");
	EXPECT(((volatile uint8_t *)(uintptr_t)base)[100] == 0, "fenced memory reads zeros, never faults");
	((volatile uint8_t *)(uintptr_t)base)[100] = 9; /* and a late write lands harmlessly */
	EXPECT(fcntl(fds[0], 1 /* F_GETFD */) >= 0, "the fd number stays taken (by /dev/null)");
	EXPECT(mcr_arena_map(a, 8192, 4096) == -ECANCELED, "a fenced arena refuses mappings");
	EXPECT(mcr_arena_release(a, fds[0], 0) == -ECANCELED, "and releases");
	EXPECT(mcr_arena_open(1 << 22) != a, "a fenced arena is never handed out again");

	/* An arena returned empty is reused. */
	int b = mcr_arena_open(1 << 21);
	EXPECT(b >= 0 && mcr_arena_map(b, 0, 4096) == 0, "second arena");
	EXPECT(mcr_arena_return(b) == -EBUSY, "not returned while it holds something");
	EXPECT(mcr_arena_release(b, -1, 0) == 0 && mcr_arena_return(b) == 0, "returned once empty");
	EXPECT(mcr_arena_open(1 << 21) == b, "and reused");

	/*
	 * Closing while another thread keeps calling on the handle (using it while
	 * OPEN, probing it once CLOSED): 2,000 times, every waiter is freed exactly
	 * once and never while a thread that entered it OPEN is inside (a probe of a
	 * closed slot holds it for a moment but never touches the waiter).
	 */
	pthread_t pr;
	int32_t u0[3], u1[3];
	mcr_waiter_tally(u0);
	atomic_store(&probe_h, -1);
	pthread_create(&pr, NULL, prober, NULL);
	for (int i = 0; i < 2000; i++) {
		int hx = mcr_waiter_open(8);
		if (hx < 0) {
			EXPECT(0, "waiter opened in the probe loop");
			break;
		}
		atomic_store(&probe_h, hx);
		EXPECT(mcr_waiter_close(hx) == 0, "closed under calls from another thread");
	}
	atomic_store(&probing, 0);
	pthread_join(pr, NULL);
	sleep_ms(10);
	mcr_waiter_tally(u1);
	EXPECT(u1[0] - u0[0] == 2000, "every waiter freed exactly once");
	EXPECT(u1[2] == u0[2], "never freed with a thread inside that could use it");

	if (failures == 0)
		return 0;
	fprintf(stderr, "%d failure(s)\n", failures);
	return 1;
}
