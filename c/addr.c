/* Socket helpers shared by the UDP-facing files: (family, address bytes) -> sockaddr, options, bind. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"
#include "mcr.h"

/*
 * family 4: addr[0..4) is the IPv4 address in network order; family 6:
 * addr[0..16) the IPv6 address. Returns the sockaddr length, or -EAFNOSUPPORT.
 */
int __mcr_sockaddr(int family, const uint8_t *addr, int port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (family == 4) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		if (addr != NULL)
			memcpy(&sin->sin_addr, addr, 4);
		return (int)sizeof(*sin);
	}
	if (family == 6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		if (addr != NULL)
			memcpy(&sin6->sin6_addr, addr, 16);
		return (int)sizeof(*sin6);
	}
	return -EAFNOSUPPORT;
}

int __mcr_af(int family)
{
	return family == 6 ? AF_INET6 : AF_INET;
}

int __mcr_is_multicast(int family, const uint8_t *addr)
{
	return family == 6 ? addr[0] == 0xff : (addr[0] & 0xf0) == 0xe0;
}

int __mcr_set_int(int fd, int level, int name, int value)
{
	return setsockopt(fd, level, name, &value, sizeof(value)) < 0 ? __mcr_neg_errno() : 0;
}

int __mcr_bind(int fd, int family, const uint8_t *addr, int port, int freebind)
{
	struct sockaddr_storage ss;
	int len = __mcr_sockaddr(family, addr, port, &ss);

	if (len < 0)
		return len;
	/* Freebind: the address may not be configured yet (or ever, for a VIP). */
	if (freebind)
		__mcr_set_int(fd, family == 6 ? IPPROTO_IPV6 : IPPROTO_IP, family == 6 ? IPV6_FREEBIND : IP_FREEBIND, 1);
	return bind(fd, (struct sockaddr *)&ss, (socklen_t)len) < 0 ? __mcr_neg_errno() : 0;
}

MCR_EXPORT int mcr_socket_close(int fd)
{
	return close(fd) < 0 ? __mcr_neg_errno() : 0;
}
