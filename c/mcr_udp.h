/*
 * libmcr: UDP sockets for the traffic tools (`mcr gen`, `mcr sink`).
 * Same conventions as mcr.h: >= 0 success, -errno failure. 64-bit values
 * cross as (hi, lo) u32 pairs so the calls stay on Deno's fast integer path.
 */
#ifndef MCR_UDP_H
#define MCR_UDP_H

#include <stdint.h>

/* Most datagrams one batch call handles. */
#define MCR_UDP_BATCH 64

/*
 * Addresses cross as (family 4|6, bytes in network order: 4 or 16); a
 * destination is a sockaddr built once with mcr_sockaddr_build() (mcr.h).
 *
 * Opens a UDP socket for sending: multicast interface ifindex (0: the routing
 * table decides) and source address src when has_src (bound, so it is the
 * source address), TTL / hop limit `ttl` for multicast and unicast,
 * multicast loop `loop`.
 */
int mcr_udp_sender_open(int family, const uint8_t *src, int has_src, int ifindex, int ttl, int loop);

/*
 * Sends `count` (<= MCR_UDP_BATCH) datagrams of `size` bytes to the sockaddr
 * `name` with one sendmmsg(): each is the template `buf` with the 64-bit
 * sequence number (seq_hi:seq_lo) + i written big-endian at byte 8 and the
 * send time (CLOCK_REALTIME, u32 seconds then u32 nanoseconds, big-endian)
 * at byte 24. Returns how many were sent.
 */
int mcr_udp_send_batch(int fd, const uint8_t *name, int namelen, const uint8_t *buf, int size, int count,
		       uint32_t seq_hi, uint32_t seq_lo);

/*
 * Sends `count` (<= MCR_UDP_BATCH) datagrams of different contents to the
 * sockaddr `name` with one sendmmsg() (retried for the rest after a partial
 * send): datagram i is lengths[i] (>= 0) bytes of `buf`, the datagrams lying
 * back to back from its start (the caller guarantees buf holds their sum).
 * The bytes go out unchanged. Returns how many were sent.
 */
int mcr_udp_send_payloads(int fd, const uint8_t *name, int namelen, const uint8_t *buf, const int32_t *lengths,
			  int count);

/*
 * Opens a UDP socket bound to addr:port; a multicast addr is joined on
 * ifindex (0: any). SO_RXQ_OVFL (kernel drop counter) and IP_RECVTTL /
 * IPV6_RECVHOPLIMIT are on, and SO_TIMESTAMPNS (the kernel's receive time).
 */
int mcr_udp_receiver_open(int family, const uint8_t *addr, int port, int ifindex);

/*
 * Waits up to timeout_ms, then receives up to `max` (<= MCR_UDP_BATCH)
 * datagrams with one recvmmsg() into slots of `slot_size` bytes in `buf`.
 * out[i] = length of datagram i; out[max] = the socket's kernel drop counter
 * (SO_RXQ_OVFL, cumulative); out[max + 1] = TTL / hop limit of the last datagram;
 * times[2i], times[2i+1] = the kernel's receive time of datagram i (seconds,
 * nanoseconds; 0 if none). Returns the number received (0 on timeout).
 */
int mcr_udp_recv_batch(int fd, uint8_t *buf, int slot_size, int max, int32_t *out, int32_t *times, int timeout_ms);

/* Sockets opened here are closed with mcr_socket_close() (mcr.h). */

#endif
