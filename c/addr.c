/* Addresses across the FFI boundary: (family, 16-byte buffer) -> sockaddr. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "internal.h"

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
