/*
 * Routing-protocol sockets (IGMP and PIM over IPv4, MLD over IPv6). One AF_PACKET SOCK_DGRAM socket
 * per interface and protocol: the kernel strips the link header, a classic
 * BPF filter passes only that protocol, and (for the speakers) allmulti
 * makes the NIC hand up reports sent to groups this host never joined. The supervisor's protocol
 * speakers build and parse the IP packets themselves (src/protocols/).
 */
#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"
#include "mcr.h"

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

/* MLD messages (RFC 3810): ICMPv6 types 130 query, 131 v1 report, 132 done, 143 v2 report. */
static int attach_mld_filter(int fd)
{
	/* Offsets from the IPv6 header: ICMPv6 right after it (type at 40), or
	 * behind the 8-byte hop-by-hop header MLD carries (type at 48). */
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 6),             /* next header */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 58, 5, 0),     /* ICMPv6: type at 40 */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 11),     /* hop-by-hop, else drop */
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 40),            /* its next header */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 58, 0, 9),
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 41),            /* its length: 8 bytes only */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 2, 7),
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 40),            /* (direct ICMPv6) type */
		BPF_JUMP(BPF_JMP | BPF_JA, 1, 0, 0),
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 48),            /* (behind hop-by-hop) type */
		BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 130, 0, 3),
		BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, 132, 0, 1),    /* 130-132 */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 143, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 0x40000),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };

	return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0 ? __mcr_neg_errno() : 0;
}

static int attach_filter(int fd, int proto)
{
	/* Offsets are from the IP header (cooked socket). */
	struct sock_filter v4[] = {
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 9),             /* protocol */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1),      /* k patched below */
		BPF_STMT(BPF_RET | BPF_K, 0x40000),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog prog;

	v4[1].k = (unsigned)proto;
	prog.len = sizeof(v4) / sizeof(v4[0]);
	prog.filter = v4;
	return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0 ? __mcr_neg_errno() : 0;
}

MCR_EXPORT MCR_COLD int mcr_ctl_open(int ifindex, int family, int proto, int allmulti)
{
	int ethertype = family == 4 ? ETH_P_IP : ETH_P_IPV6;
	struct sockaddr_ll sll;
	struct packet_mreq mr;
	int fd, err;

	if ((family != 4 && family != 6) || ifindex <= 0 || proto < 0 || proto > 255)
		return -EINVAL;
	/* Protocol 0 until the filter is in place: nothing unfiltered is queued. */
	fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return __mcr_neg_errno();
	err = family == 4 ? attach_filter(fd, proto) : attach_mld_filter(fd);
	if (err == 0)
		err = __mcr_set_int(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, 1);
	if (err == 0 && allmulti) {
		memset(&mr, 0, sizeof(mr));
		mr.mr_ifindex = ifindex;
		mr.mr_type = PACKET_MR_ALLMULTI;
		if (setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0)
			err = __mcr_neg_errno();
	}
	if (err == 0) {
		memset(&sll, 0, sizeof(sll));
		sll.sll_family = AF_PACKET;
		sll.sll_protocol = htons((uint16_t)ethertype);
		sll.sll_ifindex = ifindex;
		if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0)
			err = __mcr_neg_errno();
	}
	if (err != 0) {
		close(fd);
		return err;
	}
	return fd;
}

MCR_EXPORT int mcr_ctl_recv(int fd, uint8_t *buf, int len)
{
	ssize_t n;

	if (len < 0)
		return -EINVAL;
	do
		n = recv(fd, buf, (size_t)len, MSG_DONTWAIT | MSG_TRUNC);
	while (n < 0 && errno == EINTR);
	return n < 0 ? __mcr_neg_errno() : (int)n;
}

MCR_EXPORT int mcr_ctl_drops(int fd)
{
	struct tpacket_stats st;
	socklen_t len = sizeof(st);

	if (getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) < 0)
		return __mcr_neg_errno();
	return st.tp_drops > INT32_MAX ? INT32_MAX : (int)st.tp_drops;
}

MCR_EXPORT int mcr_ctl_send(int fd, int ifindex, int family, const uint8_t *buf, int len, const uint8_t *mac)
{
	struct sockaddr_ll sll;
	ssize_t n;

	if (len <= 0 || (family != 4 && family != 6))
		return -EINVAL;
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(family == 4 ? ETH_P_IP : ETH_P_IPV6);
	sll.sll_ifindex = ifindex;
	sll.sll_halen = 6;
	memcpy(sll.sll_addr, mac, 6);
	do
		n = sendto(fd, buf, (size_t)len, MSG_DONTWAIT, (struct sockaddr *)&sll, sizeof(sll));
	while (n < 0 && errno == EINTR);
	return n < 0 ? __mcr_neg_errno() : (int)n;
}

MCR_EXPORT MCR_COLD int mcr_raw_open(int proto)
{
	/* Send only: a filter that passes nothing keeps the kernel from queueing
	 * copies of every packet of this protocol for a reader that never reads. */
	struct sock_filter none[] = { BPF_STMT(BPF_RET | BPF_K, 0) };
	struct sock_fprog prog = { .len = 1, .filter = none };
	int fd;

	if (proto <= 0 || proto > 255)
		return -EINVAL;
	fd = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
	if (fd < 0)
		return __mcr_neg_errno();
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0) {
		int err = __mcr_neg_errno();
		close(fd);
		return err;
	}
	return fd;
}

MCR_EXPORT int mcr_raw_send(int fd, const uint8_t *dst, const uint8_t *buf, int len)
{
	struct sockaddr_in sin;
	ssize_t n;

	if (len <= 0)
		return -EINVAL;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	memcpy(&sin.sin_addr, dst, 4);
	do
		n = sendto(fd, buf, (size_t)len, MSG_DONTWAIT, (struct sockaddr *)&sin, sizeof(sin));
	while (n < 0 && errno == EINTR);
	return n < 0 ? __mcr_neg_errno() : (int)n;
}
