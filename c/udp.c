/* UDP sockets for the traffic tools: batched sends and receives (sendmmsg/recvmmsg). */
#define _GNU_SOURCE /* sendmmsg, recvmmsg */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "mcr_udp.h"

#define SEQ_OFFSET 8
#define HEAD_BYTES 32 /* bytes of the template copied per datagram: up to the end of the send time */
#define SENT_OFFSET 24 /* send time: u32 seconds, u32 nanoseconds (CLOCK_REALTIME), big-endian */

MCR_EXPORT MCR_COLD int mcr_udp_sender_open(int family, const uint8_t *src, int has_src, int ifindex, int ttl,
					    int loop)
{
	int v6 = family == 6;
	int fd, err;

	if (family != 4 && family != 6)
		return -EAFNOSUPPORT;
	fd = socket(__mcr_af(family), SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return __mcr_neg_errno();
	if (v6) {
		if ((ifindex > 0 && (err = __mcr_set_int(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, ifindex)) < 0) ||
		    (err = __mcr_set_int(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, ttl)) < 0 ||
		    (err = __mcr_set_int(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, ttl)) < 0 ||
		    (err = __mcr_set_int(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, loop ? 1 : 0)) < 0)
			goto err;
	} else {
		struct ip_mreqn mreq;

		memset(&mreq, 0, sizeof(mreq));
		mreq.imr_ifindex = ifindex;
		if (has_src)
			memcpy(&mreq.imr_address, src, 4);
		if ((ifindex > 0 || has_src) && setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &mreq, sizeof(mreq)) < 0) {
			err = __mcr_neg_errno();
			goto err;
		}
		if ((err = __mcr_set_int(fd, IPPROTO_IP, IP_MULTICAST_TTL, ttl)) < 0 ||
		    (err = __mcr_set_int(fd, IPPROTO_IP, IP_TTL, ttl)) < 0 ||
		    (err = __mcr_set_int(fd, IPPROTO_IP, IP_MULTICAST_LOOP, loop ? 1 : 0)) < 0)
			goto err;
	}
	if (has_src && (err = __mcr_bind(fd, family, src, 0, 0)) < 0)
		goto err;
	__mcr_set_int(fd, SOL_SOCKET, SO_SNDBUF, 4 << 20);
	return fd;
err:
	close(fd);
	return err;
}

MCR_EXPORT int mcr_udp_send_batch(int fd, const uint8_t *name, int namelen, const uint8_t *buf, int size,
				  int count, uint32_t seq_hi, uint32_t seq_lo)
{
	struct mmsghdr msgs[MCR_UDP_BATCH];
	struct iovec iov[MCR_UDP_BATCH][2];
	uint8_t heads[MCR_UDP_BATCH][HEAD_BYTES];
	uint64_t seq = ((uint64_t)seq_hi << 32) | seq_lo;
	struct timespec now;
	int i, sent = 0;

	if (count <= 0 || count > MCR_UDP_BATCH || size < HEAD_BYTES)
		return -EINVAL;
	memset(msgs, 0, sizeof(msgs[0]) * (size_t)count);
	/* One send time for the batch: the moment of the sendmmsg() below. */
	clock_gettime(CLOCK_REALTIME, &now);
	for (i = 0; i < count; i++) {
		uint64_t s = seq + (uint64_t)i;
		memcpy(heads[i], buf, HEAD_BYTES);
		for (int b = 0; b < 8; b++) /* big-endian sequence number */
			heads[i][SEQ_OFFSET + b] = (uint8_t)(s >> (56 - 8 * b));
		for (int b = 0; b < 4; b++) {
			heads[i][SENT_OFFSET + b] = (uint8_t)((uint32_t)now.tv_sec >> (24 - 8 * b));
			heads[i][SENT_OFFSET + 4 + b] = (uint8_t)((uint32_t)now.tv_nsec >> (24 - 8 * b));
		}
		iov[i][0] = (struct iovec){ heads[i], HEAD_BYTES };
		iov[i][1] = (struct iovec){ (void *)(buf + HEAD_BYTES), (size_t)(size - HEAD_BYTES) };
		msgs[i].msg_hdr.msg_iov = iov[i];
		msgs[i].msg_hdr.msg_iovlen = 2;
		msgs[i].msg_hdr.msg_name = (void *)name;
		msgs[i].msg_hdr.msg_namelen = (socklen_t)namelen;
	}
	while (sent < count) {
		int rc = sendmmsg(fd, msgs + sent, (unsigned)(count - sent), 0);
		if (rc < 0) {
			if (errno == EINTR)
				continue;
			return sent > 0 ? sent : __mcr_neg_errno();
		}
		sent += rc;
	}
	return sent;
}

MCR_EXPORT int mcr_udp_send_payloads(int fd, const uint8_t *name, int namelen, const uint8_t *buf,
				     const int32_t *lengths, int count)
{
	struct mmsghdr msgs[MCR_UDP_BATCH];
	struct iovec iov[MCR_UDP_BATCH];
	size_t off = 0;
	int i, sent = 0;

	if (count <= 0 || count > MCR_UDP_BATCH)
		return -EINVAL;
	memset(msgs, 0, sizeof(msgs[0]) * (size_t)count);
	for (i = 0; i < count; i++) {
		if (lengths[i] < 0)
			return -EINVAL;
		iov[i] = (struct iovec){ (void *)(buf + off), (size_t)lengths[i] };
		off += (size_t)lengths[i];
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_name = (void *)name;
		msgs[i].msg_hdr.msg_namelen = (socklen_t)namelen;
	}
	while (sent < count) {
		int rc = sendmmsg(fd, msgs + sent, (unsigned)(count - sent), 0);
		if (rc < 0) {
			if (errno == EINTR)
				continue;
			return sent > 0 ? sent : __mcr_neg_errno();
		}
		sent += rc;
	}
	return sent;
}

MCR_EXPORT MCR_COLD int mcr_udp_receiver_open(int family, const uint8_t *addr, int port, int ifindex)
{
	int v6 = family == 6;
	int fd, err;

	if (family != 4 && family != 6)
		return -EAFNOSUPPORT;
	fd = socket(__mcr_af(family), SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return __mcr_neg_errno();
	if ((err = __mcr_set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1)) < 0)
		goto err;
	/* A big buffer: the receiver must not be the bottleneck it is scoring. */
	if (__mcr_set_int(fd, SOL_SOCKET, SO_RCVBUFFORCE, 32 << 20) < 0)
		__mcr_set_int(fd, SOL_SOCKET, SO_RCVBUF, 32 << 20);
	if ((err = __mcr_set_int(fd, SOL_SOCKET, SO_RXQ_OVFL, 1)) < 0)
		goto err;
	/* The kernel's receive time of each datagram (one-way latency at the receiver). */
	if ((err = __mcr_set_int(fd, SOL_SOCKET, SO_TIMESTAMPNS, 1)) < 0)
		goto err;
	if (v6 ? ((err = __mcr_set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1)) < 0 ||
		  (err = __mcr_set_int(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1)) < 0)
	       : (err = __mcr_set_int(fd, IPPROTO_IP, IP_RECVTTL, 1)) < 0)
		goto err;
	if ((err = __mcr_bind(fd, family, addr, port, 0)) < 0)
		goto err;
	if (__mcr_is_multicast(family, addr)) {
		struct group_req req;

		memset(&req, 0, sizeof(req));
		req.gr_interface = (uint32_t)ifindex;
		__mcr_sockaddr(family, addr, 0, &req.gr_group);
		if (setsockopt(fd, v6 ? IPPROTO_IPV6 : IPPROTO_IP, MCAST_JOIN_GROUP, &req, sizeof(req)) < 0) {
			err = __mcr_neg_errno();
			goto err;
		}
	}
	return fd;
err:
	close(fd);
	return err;
}

MCR_EXPORT int mcr_udp_recv_batch(int fd, uint8_t *buf, int slot_size, int max, int32_t *out, int32_t *times,
				  int timeout_ms)
{
	struct mmsghdr msgs[MCR_UDP_BATCH];
	struct iovec iov[MCR_UDP_BATCH];
	char control[MCR_UDP_BATCH][128];
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int i, n, rc;

	if (max <= 0 || max > MCR_UDP_BATCH || slot_size <= 0)
		return -EINVAL;
	rc = poll(&pfd, 1, timeout_ms);
	if (rc < 0)
		return errno == EINTR ? 0 : __mcr_neg_errno();
	if (rc == 0)
		return 0;
	memset(msgs, 0, sizeof(msgs[0]) * (size_t)max);
	for (i = 0; i < max; i++) {
		iov[i] = (struct iovec){ buf + (size_t)i * (size_t)slot_size, (size_t)slot_size };
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_control = control[i];
		msgs[i].msg_hdr.msg_controllen = sizeof(control[i]);
	}
	n = recvmmsg(fd, msgs, (unsigned)max, MSG_DONTWAIT, NULL);
	if (n < 0)
		return (errno == EAGAIN || errno == EINTR) ? 0 : __mcr_neg_errno();
	for (i = 0; i < n; i++) {
		struct cmsghdr *c;

		out[i] = (int32_t)msgs[i].msg_len;
		times[2 * i] = 0;
		times[2 * i + 1] = 0;
		for (c = CMSG_FIRSTHDR(&msgs[i].msg_hdr); c != NULL; c = CMSG_NXTHDR(&msgs[i].msg_hdr, c)) {
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
				struct timespec ts;
				memcpy(&ts, CMSG_DATA(c), sizeof(ts));
				times[2 * i] = (int32_t)ts.tv_sec;
				times[2 * i + 1] = (int32_t)ts.tv_nsec;
			} else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
				uint32_t drops;
				memcpy(&drops, CMSG_DATA(c), sizeof(drops));
				out[max] = (int32_t)drops;
			} else if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) ||
				   (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT)) {
				int ttl;
				memcpy(&ttl, CMSG_DATA(c), sizeof(ttl));
				out[max + 1] = ttl;
			}
		}
	}
	return n;
}

