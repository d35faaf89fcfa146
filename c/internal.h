/* Private helpers shared by libmcr's translation units. Not installed. */
#ifndef MCR_INTERNAL_H
#define MCR_INTERNAL_H

#include <errno.h>

/* Marks a function as part of the exported API (the build hides everything else). */
#define MCR_EXPORT __attribute__((visibility("default")))
/* Setup-time functions: keep them out of hot cache lines. */
#define MCR_COLD __attribute__((cold))

/* -errno of the last failed libc call, never 0 (a missing errno becomes -EIO). */
static inline int __mcr_neg_errno(void)
{
	return errno > 0 ? -errno : -EIO;
}

int __mcr_check_rx_geometry(unsigned block_size, unsigned block_count, unsigned frame_size);
int __mcr_check_tx_geometry(unsigned frame_size, unsigned frame_count);

#endif
