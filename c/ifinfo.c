/* Interface facts by name: index, MTU, flags, IPv4 address, MAC; its IPv6 address. */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <stdlib.h>
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

/* fe80::/10 */
static int is_link_local(const struct in6_addr *a)
{
	return a->s6_addr[0] == 0xfe && (a->s6_addr[1] & 0xc0) == 0x80;
}

/*
 * The interface's IPv6 address into out[16]: the first global one (2), else
 * the first link-local one (1), or with link_local_only the first
 * link-local one (1); 0 when there is none, or -errno.
 */
static int find_ipv6(const char *name, uint8_t *out, int link_local_only)
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
		int rank;

		if (sin6 == NULL || sin6->sin6_family != AF_INET6 || strcmp(it->ifa_name, name) != 0)
			continue;
		rank = is_link_local(&sin6->sin6_addr) ? 1 : 2;
		if (link_local_only && rank != 1)
			continue;
		if (rank > found) {
			memcpy(out, &sin6->sin6_addr, 16);
			found = rank;
		}
	}
	freeifaddrs(list);
	return found;
}

MCR_EXPORT MCR_COLD int mcr_if_ipv6(const char *name, uint8_t *out)
{
	int rank = find_ipv6(name, out, 0);

	/* Returns as it always did: 1 for a global address, 2 for a link-local one only. */
	return rank <= 0 ? rank : rank == 2 ? 1 : 2;
}

MCR_EXPORT MCR_COLD int mcr_if_link_local(const char *name, uint8_t *out)
{
	return find_ipv6(name, out, 1);
}

/* The first number in the file at path, or -errno. */
static long long read_number(const char *path)
{
	char text[32];
	int n = __mcr_read_text(path, text, (int)sizeof(text));

	return n < 0 ? n : strtoll(text, NULL, 10);
}

/* One counter of /sys/class/net/NAME/statistics, or -errno. */
static long long read_stat(const char *name, const char *counter)
{
	char path[128];

	if (snprintf(path, sizeof(path), "/sys/class/net/%s/statistics/%s", name, counter) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	return read_number(path);
}

MCR_EXPORT MCR_COLD int mcr_if_stats(const char *name, double *out)
{
	static const char *const counters[4] = { "rx_packets", "rx_dropped", "tx_packets", "tx_dropped" };
	int i;

	if (name[0] == 0 || name[0] == '.' || strchr(name, '/') || strlen(name) >= IFNAMSIZ)
		return -EINVAL;
	for (i = 0; i < 4; i++) {
		long long v = read_stat(name, counters[i]);

		if (v < 0)
			return (int)v;
		out[i] = (double)v;
	}
	return 0;
}

MCR_EXPORT MCR_COLD long long mcr_sysctl_number(const char *key)
{
	char path[160];
	size_t i, len = strlen(key);

	if (len == 0 || len >= 100 || key[0] == '.' || strstr(key, ".."))
		return -EINVAL;
	memcpy(path, "/proc/sys/", 10);
	for (i = 0; i <= len; i++) {
		if (key[i] == '/')
			return -EINVAL;
		path[10 + i] = key[i] == '.' ? '/' : key[i];
	}
	return read_number(path);
}
