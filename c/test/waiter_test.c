/* The waiter times out with 0, wakes on notify, and refuses unknown handles. */
#include <errno.h>
#include <stdio.h>
#include "../mcr.h"

int main(void)
{
	int32_t stats[5];
	int h = mcr_waiter_open(64);

	if (h == -ENOSYS || h == -EPERM) return 77; /* io_uring not available here: skip */
	if (h < 0) { fprintf(stderr, "FAIL: open %d\n", h); return 1; }
	if (mcr_waiter_wait(h, 10) != 0) { fprintf(stderr, "FAIL: idle wait\n"); return 1; }
	if (mcr_waiter_notify(h) != 0 || mcr_waiter_wait(h, 5000) < 1) { fprintf(stderr, "FAIL: notify\n"); return 1; }
	if (mcr_waiter_submit(h) != 0) { fprintf(stderr, "FAIL: empty submit\n"); return 1; }
	if (mcr_waiter_stats(h, stats) != 0 || stats[0] != 0 || stats[1] != 0) { fprintf(stderr, "FAIL: stats\n"); return 1; }
	if (mcr_waiter_close(h) != 0) { fprintf(stderr, "FAIL: close\n"); return 1; }
	if (mcr_waiter_wait(h, 0) != -EBADF || mcr_waiter_notify(12345) != -EBADF) { fprintf(stderr, "FAIL: EBADF\n"); return 1; }
	return 0;
}
