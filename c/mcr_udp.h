/*
 * libmcr: UDP sockets for the traffic tools (`mcr gen`, `mcr sink`).
 * Same conventions as mcr.h: >= 0 success, -errno failure. Addresses are
 * IPv4 in host byte order; 64-bit values cross as (hi, lo) u32 pairs so the
 * calls stay on Deno's fast integer path.
 */
#ifndef MCR_UDP_H
#define MCR_UDP_H

#include <stdint.h>

/* Most datagrams one batch call handles. */
#define MCR_UDP_BATCH 64

/*
 * Opens a UDP socket for sending multicast: IP_MULTICAST_IF = ifaddr (0: the
 * routing table decides), IP_MULTICAST_TTL = ttl, IP_MULTICAST_LOOP = loop,
 * bound to ifaddr:0 when ifaddr != 0 (so it is the source address).
 */
int mcr_udp_sender_open(uint32_t ifaddr, int ttl, int loop);

/*
 * Sends `count` (<= MCR_UDP_BATCH) datagrams of `size` bytes to group:port
 * with one sendmmsg(): each is the template `buf` with the 64-bit sequence
 * number (seq_hi:seq_lo) + i written big-endian at byte 8. Returns how many
 * were sent.
 */
int mcr_udp_send_batch(int fd, uint32_t group, int port, const uint8_t *buf, int size, int count,
		       uint32_t seq_hi, uint32_t seq_lo);

/*
 * Opens a UDP socket bound to group:port and joined to the group on ifindex
 * (0: any), with SO_RXQ_OVFL (kernel drop counter) and IP_RECVTTL on.
 */
int mcr_udp_receiver_open(uint32_t group, int port, int ifindex);

/*
 * Waits up to timeout_ms, then receives up to `max` (<= MCR_UDP_BATCH)
 * datagrams with one recvmmsg() into slots of `slot_size` bytes in `buf`.
 * out[i] = length of datagram i; out[max] = the socket's kernel drop counter
 * (SO_RXQ_OVFL, cumulative); out[max + 1] = TTL of the last datagram.
 * Returns the number received (0 on timeout).
 */
int mcr_udp_recv_batch(int fd, uint8_t *buf, int slot_size, int max, int32_t *out, int timeout_ms);

/* Closes a socket opened by the calls above. */
int mcr_udp_close(int fd);

#endif
