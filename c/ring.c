/*
 * AF_PACKET sockets with mapped rings, placed inside a per-worker arena so
 * that one ArrayBuffer in TypeScript covers every ring of a worker.
 *
 *   arena:  [ RX ring A | TX ring X | TX ring Y | ...free... ]   (PROT_NONE until mapped)
 *
 * RX rings are TPACKET_V3 (variable-size packets packed into blocks), TX
 * rings TPACKET_V2 (fixed frames). Sockets are created with protocol 0 so
 * that no traffic is queued to them before they are configured and bound.
 */
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"
#include "mcr.h"

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

static int set_int(int fd, int level, int name, int value)
{
	return setsockopt(fd, level, name, &value, sizeof(value)) < 0 ? __mcr_neg_errno() : 0;
}

static int bind_to(int fd, int ifindex, uint16_t protocol)
{
	struct sockaddr_ll sll;

	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(protocol);
	sll.sll_ifindex = ifindex;
	return bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0 ? __mcr_neg_errno() : 0;
}

/* An AF_PACKET socket (protocol 0: nothing is queued to it until it is bound) set to a TPACKET version. */
static int packet_socket(int version)
{
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	int err;

	if (fd < 0)
		return __mcr_neg_errno();
	if ((err = set_int(fd, SOL_PACKET, PACKET_VERSION, version)) < 0) {
		close(fd);
		return err;
	}
	return fd;
}

/* Asks the kernel for the ring (PACKET_RX_RING / PACKET_TX_RING) and maps it at map_addr. */
static int request_and_map(int fd, int option, const void *req, socklen_t req_len, uint64_t map_addr, uint64_t len)
{
	void *p;

	if (setsockopt(fd, SOL_PACKET, option, req, req_len) < 0)
		return __mcr_neg_errno();
	p = mmap((void *)(uintptr_t)map_addr, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
	return p == MAP_FAILED ? __mcr_neg_errno() : 0;
}

MCR_EXPORT MCR_COLD int mcr_rx_open(int arena, uint32_t offset, int ifindex, uint32_t block_size,
				    uint32_t block_count, uint32_t frame_size, uint32_t retire_ms, uint32_t flags,
				    uint32_t fanout_id)
{
	struct tpacket_req3 req;
	uint64_t len = (uint64_t)block_size * block_count;
	uint64_t map_addr;
	int mapped = 0;
	int fd, err;

	err = __mcr_check_rx_geometry(block_size, block_count, frame_size);
	if (err < 0)
		return err;
	if (ifindex <= 0 || len > UINT32_MAX)
		return -EINVAL;
	if ((err = __mcr_arena_begin(arena, offset, (uint32_t)len, &map_addr)) < 0)
		return err;

	if ((flags & MCR_RX_FRAMES) && block_size % frame_size != 0) {
		__mcr_arena_end(arena, -1, offset, 0, 0);
		return -EINVAL; /* frames must tile the blocks: frame i is at i * frame_size */
	}
	fd = packet_socket((flags & MCR_RX_FRAMES) ? TPACKET_V2 : TPACKET_V3);
	if (fd < 0) {
		__mcr_arena_end(arena, -1, offset, 0, 0);
		return fd;
	}
	/* Drop everything until the caller attaches the real filter. */
	if ((err = mcr_rx_set_filter(fd, NULL, 0, 0)) < 0)
		goto err;
	/*
	 * Ask the kernel to stamp every received packet once, when it enters the
	 * stack (SO_TIMESTAMPNS enables that for the whole host), rather than
	 * once per ring: the same packet then carries the same time in every
	 * ring that takes it, which is what a ring succession cuts on
	 * (src/dataplane/succession.ts).
	 */
	if ((err = set_int(fd, SOL_SOCKET, SO_TIMESTAMPNS, 1)) < 0)
		goto err;
	if ((flags & MCR_RX_IGNORE_OUTGOING) &&
	    (err = set_int(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)) < 0)
		goto err;
	/* Before the ring: the kernel sizes each slot's header room from it. */
	if ((flags & MCR_RX_VNET_HDR) && (err = set_int(fd, SOL_PACKET, PACKET_VNET_HDR, 1)) < 0)
		goto err;

	memset(&req, 0, sizeof(req));
	req.tp_block_size = block_size;
	req.tp_block_nr = block_count;
	req.tp_frame_size = frame_size;
	req.tp_frame_nr = (block_size / frame_size) * block_count;
	req.tp_retire_blk_tov = retire_ms;
	req.tp_feature_req_word = TP_FT_REQ_FILL_RXHASH;
	/* TPACKET_V2 takes the first four fields of the same request (struct tpacket_req). */
	if ((err = request_and_map(fd, PACKET_RX_RING, &req,
				   (flags & MCR_RX_FRAMES) ? sizeof(struct tpacket_req) : sizeof(req), map_addr, len)) < 0)
		goto err;
	mapped = 1;
	if ((err = bind_to(fd, ifindex, ETH_P_ALL)) < 0)
		goto err;
	if ((flags & MCR_RX_FANOUT_HASH) &&
	    (err = set_int(fd, SOL_PACKET, PACKET_FANOUT,
			   (int)((fanout_id & 0xffff) | (PACKET_FANOUT_HASH << 16)))) < 0)
		goto err;
	__mcr_arena_end(arena, fd, offset, (uint32_t)len, 1);
	return fd;
err:
	if (mapped)
		__mcr_arena_uncover(map_addr, len);
	close(fd);
	__mcr_arena_end(arena, -1, offset, 0, 0);
	return err;
}

MCR_EXPORT MCR_COLD int mcr_tx_open(int arena, uint32_t offset, int ifindex, uint32_t frame_size,
				    uint32_t frame_count, int qdisc_bypass)
{
	struct tpacket_req req;
	uint32_t frames_per_block, block_size;
	uint64_t len = (uint64_t)frame_size * frame_count;
	uint64_t map_addr;
	int mapped = 0;
	int fd, err, sndbuf;

	err = __mcr_check_tx_geometry(frame_size, frame_count);
	if (err < 0)
		return err;
	/* Frames are packed into blocks of at least 64 KiB; the count must fill whole blocks. */
	frames_per_block = frame_size >= 65536 ? 1 : 65536 / frame_size;
	block_size = frames_per_block * frame_size;
	if (frame_count % frames_per_block != 0 || ifindex <= 0 || len > UINT32_MAX)
		return -EINVAL;
	if ((err = __mcr_arena_begin(arena, offset, (uint32_t)len, &map_addr)) < 0)
		return err;

	fd = packet_socket(TPACKET_V2);
	if (fd < 0) {
		__mcr_arena_end(arena, -1, offset, 0, 0);
		return fd;
	}
	/* A frame the kernel refuses (e.g. longer than a lowered MTU) is marked
	 * WRONG_FORMAT and skipped instead of stopping the ring there. */
	if ((err = set_int(fd, SOL_PACKET, PACKET_LOSS, 1)) < 0)
		goto err;
	if (qdisc_bypass && (err = set_int(fd, SOL_PACKET, PACKET_QDISC_BYPASS, 1)) < 0)
		goto err;
	/* Every frame of the ring may be in flight at once (on veth a frame is held
	 * until the receiver takes it): let the send buffer cover the whole ring. */
	sndbuf = len > (1u << 30) ? (int)(1u << 30) : (int)len;
	if (set_int(fd, SOL_SOCKET, SO_SNDBUFFORCE, sndbuf) < 0)
		set_int(fd, SOL_SOCKET, SO_SNDBUF, sndbuf);
	memset(&req, 0, sizeof(req));
	req.tp_block_size = block_size;
	req.tp_block_nr = frame_count / frames_per_block;
	req.tp_frame_size = frame_size;
	req.tp_frame_nr = frame_count;
	if ((err = request_and_map(fd, PACKET_TX_RING, &req, sizeof(req), map_addr, len)) < 0)
		goto err;
	mapped = 1;
	/* Protocol 0: the socket only sends; no receive hook, no queue to fill. */
	if ((err = bind_to(fd, ifindex, 0)) < 0)
		goto err;
	__mcr_arena_end(arena, fd, offset, (uint32_t)len, 1);
	return fd;
err:
	if (mapped)
		__mcr_arena_uncover(map_addr, len);
	close(fd);
	__mcr_arena_end(arena, -1, offset, 0, 0);
	return err;
}

MCR_EXPORT int mcr_ring_stats(int fd, uint32_t *out)
{
	struct tpacket_stats_v3 st;
	socklen_t len = sizeof(st);

	memset(&st, 0, sizeof(st));
	if (getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) < 0)
		return __mcr_neg_errno();
	out[0] = st.tp_packets;
	out[1] = st.tp_drops;
	out[2] = st.tp_freeze_q_cnt;
	return 0;
}
