/*
 * Kernel constraints on AF_PACKET ring geometry (net/packet/af_packet.c,
 * packet_set_ring), checked before anything is allocated so a bad request is
 * -EINVAL with no side effect. Policy (how big) lives in TypeScript.
 */
#include <stdint.h>
#include <unistd.h>
#include <linux/if_packet.h>

#include "internal.h"

static int is_pow2(unsigned v)
{
	return v != 0 && (v & (v - 1)) == 0;
}

int __mcr_check_rx_geometry(unsigned block_size, unsigned block_count, unsigned frame_size)
{
	unsigned page = (unsigned)sysconf(_SC_PAGESIZE);

	if (block_count == 0 || frame_size == 0)
		return -EINVAL;
	/* Blocks are page-multiple, and a power of two so the kernel's order-based allocation fits. */
	if (block_size < page || block_size % page != 0 || !is_pow2(block_size))
		return -EINVAL;
	if (frame_size < TPACKET3_HDRLEN || frame_size % TPACKET_ALIGNMENT != 0 || frame_size > block_size)
		return -EINVAL;
	/* The mapping is block_size * block_count bytes: must fit in 32 bits of frames and in memory. */
	if ((uint64_t)block_size * block_count > (1ull << 34))
		return -EINVAL;
	if ((uint64_t)(block_size / frame_size) * block_count > UINT32_MAX)
		return -EINVAL;
	return 0;
}

int __mcr_check_tx_geometry(unsigned frame_size, unsigned frame_count)
{
	if (frame_count == 0 || !is_pow2(frame_size) || frame_size < TPACKET2_HDRLEN + 64)
		return -EINVAL;
	if ((uint64_t)frame_size * frame_count > (1ull << 32))
		return -EINVAL;
	return 0;
}
