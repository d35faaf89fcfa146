/*
 * Routed egress: an output sent through a kernel UDP socket instead of a TX
 * ring, so the kernel routes it (unicast destinations, next hops, tunnels).
 * The worker copies each datagram's payload into a slot of a batch buffer;
 * one sendmmsg() per batch sends them all. And the absorber: a UDP socket
 * bound to a unicast input's port that drops everything, so the host does
 * not answer the relayed stream with ICMP port unreachable.
 */
#define _GNU_SOURCE /* sendmmsg */
#include <linux/filter.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"
#include "mcr.h"

#ifndef SO_BINDTOIFINDEX
#define SO_BINDTOIFINDEX 62
#endif

MCR_EXPORT MCR_COLD int mcr_sockaddr_build(int family, const uint8_t *addr, int port, uint8_t *out)
{
	struct sockaddr_storage ss;
	int len = __mcr_sockaddr(family, addr, port, &ss);

	if (len < 0)
		return len;
	memcpy(out, &ss, (size_t)len);
	return len;
}

MCR_EXPORT MCR_COLD int mcr_routed_open(int family, const uint8_t *dst, const uint8_t *src, int has_src,
					int ifindex, int hops, int tclass)
{
	int v6 = family == 6;
	int multicast, fd, err;

	if (family != 4 && family != 6)
		return -EAFNOSUPPORT;
	multicast = __mcr_is_multicast(family, dst);
	fd = socket(__mcr_af(family), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return __mcr_neg_errno();
	/* A send buffer that holds several batches: a full one is counted, not waited for. */
	if (__mcr_set_int(fd, SOL_SOCKET, SO_SNDBUFFORCE, 4 << 20) < 0)
		__mcr_set_int(fd, SOL_SOCKET, SO_SNDBUF, 4 << 20);
	if (ifindex > 0 && (err = __mcr_set_int(fd, SOL_SOCKET, SO_BINDTOIFINDEX, ifindex)) < 0)
		goto fail;
	if (multicast) {
		if (v6) {
			if ((err = __mcr_set_int(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, ifindex)) < 0 ||
			    (err = __mcr_set_int(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, hops)) < 0 ||
			    (err = __mcr_set_int(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 0)) < 0)
				goto fail;
		} else {
			struct ip_mreqn mreq;

			memset(&mreq, 0, sizeof(mreq));
			mreq.imr_ifindex = ifindex;
			if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &mreq, sizeof(mreq)) < 0) {
				err = __mcr_neg_errno();
				goto fail;
			}
			if ((err = __mcr_set_int(fd, IPPROTO_IP, IP_MULTICAST_TTL, hops)) < 0 ||
			    (err = __mcr_set_int(fd, IPPROTO_IP, IP_MULTICAST_LOOP, 0)) < 0)
				goto fail;
		}
	} else if ((err = __mcr_set_int(fd, v6 ? IPPROTO_IPV6 : IPPROTO_IP, v6 ? IPV6_UNICAST_HOPS : IP_TTL, hops)) < 0) {
		goto fail;
	}
	if (tclass >= 0 &&
	    (err = __mcr_set_int(fd, v6 ? IPPROTO_IPV6 : IPPROTO_IP, v6 ? IPV6_TCLASS : IP_TOS, tclass)) < 0)
		goto fail;
	if (has_src && (err = __mcr_bind(fd, family, src, 0, 1)) < 0)
		goto fail;
	return fd;
fail:
	close(fd);
	return err;
}

MCR_EXPORT int mcr_routed_send(int fd, const uint8_t *name, int namelen, int arena, uint32_t offset,
			       int slot_size, const int32_t *lens, int count, int32_t *out)
{
	const uint8_t *data;
	struct mmsghdr msgs[MCR_ROUTED_BATCH];
	struct iovec iov[MCR_ROUTED_BATCH];
	int i, sent = 0, failed = 0;

	out[0] = 0;
	out[1] = 0;
	out[2] = 0;
	out[3] = 0;
	if (count <= 0 || count > MCR_ROUTED_BATCH || slot_size <= 0)
		return -EINVAL;
	data = (const uint8_t *)(uintptr_t)__mcr_arena_address(arena, offset, (uint32_t)(slot_size * count));
	if (data == NULL)
		return -EFAULT;
	memset(msgs, 0, sizeof(msgs[0]) * (size_t)count);
	for (i = 0; i < count; i++) {
		iov[i] = (struct iovec){ (void *)(data + (size_t)i * (size_t)slot_size), (size_t)lens[i] };
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_name = (void *)name;
		msgs[i].msg_hdr.msg_namelen = (socklen_t)namelen;
	}
	/*
	 * sendmmsg() stops at the first datagram that fails and reports the
	 * error on the next call. A full buffer ends the batch (the rest is
	 * counted as not sent); any other error costs that one datagram.
	 */
	i = 0;
	while (i < count) {
		int rc = sendmmsg(fd, msgs + i, (unsigned)(count - i), MSG_DONTWAIT);

		if (rc >= 0) {
			for (int k = i; k < i + rc; k++)
				out[3] += lens[k];
			sent += rc;
			i += rc;
			continue;
		}
		if (errno == EINTR)
			continue;
		out[1] = errno;
		if (errno == EAGAIN || errno == ENOBUFS) {
			out[2] = count - i;
			break;
		}
		failed++;
		i++;
	}
	out[0] = failed;
	return sent;
}

MCR_EXPORT MCR_COLD int mcr_udp_absorb_open(int family, const uint8_t *addr, int port, int ifindex)
{
	static const struct sock_filter drop_all[] = { { BPF_RET | BPF_K, 0, 0, 0 } };
	struct sock_fprog prog = { .len = 1, .filter = (struct sock_filter *)drop_all };
	int fd, err;

	if (family != 4 && family != 6)
		return -EAFNOSUPPORT;
	fd = socket(__mcr_af(family), SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return __mcr_neg_errno();
	if ((err = __mcr_set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1)) < 0)
		goto fail;
	if (family == 6 && (err = __mcr_set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1)) < 0)
		goto fail;
	if (ifindex > 0 && (err = __mcr_set_int(fd, SOL_SOCKET, SO_BINDTOIFINDEX, ifindex)) < 0)
		goto fail;
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0) {
		err = __mcr_neg_errno();
		goto fail;
	}
	if ((err = __mcr_bind(fd, family, addr, port, 1)) < 0)
		goto fail;
	return fd;
fail:
	close(fd);
	return err;
}
