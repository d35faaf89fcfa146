/* Interface facts by name: index, MTU, flags, IPv4 address, MAC; its IPv6 address. */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"
#include "mcr.h"

MCR_EXPORT MCR_COLD int mcr_if_info(const char *name, int32_t *out)
{
	struct ifreq ifr;
	int fd, i;

	memset(out, 0, 16 * sizeof(*out));
	if (name == NULL || strlen(name) >= IFNAMSIZ)
		return -EINVAL;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return __mcr_neg_errno();

	memset(&ifr, 0, sizeof(ifr));
	strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
	if (ioctl(fd, SIOCGIFINDEX, &ifr) < 0) {
		int err = __mcr_neg_errno();
		close(fd);
		return err;
	}
	out[0] = ifr.ifr_ifindex;
	if (ioctl(fd, SIOCGIFMTU, &ifr) == 0)
		out[1] = ifr.ifr_mtu;
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0)
		out[2] = ifr.ifr_flags;
	if (ioctl(fd, SIOCGIFADDR, &ifr) == 0 && ifr.ifr_addr.sa_family == AF_INET)
		out[3] = (int32_t)ntohl(((struct sockaddr_in *)&ifr.ifr_addr)->sin_addr.s_addr);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) == 0)
		for (i = 0; i < 6; i++)
			out[4 + i] = (unsigned char)ifr.ifr_hwaddr.sa_data[i];
	out[10] = 1;
	close(fd);
	return 0;
}

MCR_EXPORT MCR_COLD int mcr_if_ipv6(const char *name, uint8_t *out)
{
	struct ifaddrs *list, *it;
	int found = 0;

	memset(out, 0, 16);
	if (name == NULL)
		return -EINVAL;
	if (getifaddrs(&list) < 0)
		return __mcr_neg_errno();
	for (it = list; it != NULL; it = it->ifa_next) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)it->ifa_addr;
		int scope;

		if (sin6 == NULL || sin6->sin6_family != AF_INET6 || strcmp(it->ifa_name, name) != 0)
			continue;
		/* fe80::/10 is link-local; anything else on an interface is global enough to route. */
		scope = (sin6->sin6_addr.s6_addr[0] == 0xfe && (sin6->sin6_addr.s6_addr[1] & 0xc0) == 0x80) ? 2 : 1;
		if (found == 0 || scope < found) {
			memcpy(out, &sin6->sin6_addr, 16);
			found = scope;
		}
	}
	freeifaddrs(list);
	return found;
}

MCR_EXPORT MCR_COLD int mcr_if_link_local(const char *name, uint8_t *out)
{
	struct ifaddrs *list, *it;
	int found = 0;

	memset(out, 0, 16);
	if (name == NULL)
		return -EINVAL;
	if (getifaddrs(&list) < 0)
		return __mcr_neg_errno();
	for (it = list; it != NULL && !found; it = it->ifa_next) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)it->ifa_addr;

		if (sin6 == NULL || sin6->sin6_family != AF_INET6 || strcmp(it->ifa_name, name) != 0)
			continue;
		if (sin6->sin6_addr.s6_addr[0] == 0xfe && (sin6->sin6_addr.s6_addr[1] & 0xc0) == 0x80) {
			memcpy(out, &sin6->sin6_addr, 16);
			found = 1;
		}
	}
	freeifaddrs(list);
	return found;
}
