/* Interface facts by name: index, MTU, flags, IPv4 address, MAC. */
#include <arpa/inet.h>
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
