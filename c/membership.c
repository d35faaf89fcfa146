/*
 * Group membership through a helper UDP socket, one per (interface, address
 * family): joining makes the kernel report the group (IGMPv2/v3 for IPv4,
 * MLDv1/v2 for IPv6) and program the NIC's multicast filter, so the group's
 * frames reach the RX ring. Closing the socket leaves every group it joined.
 */
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "internal.h"
#include "mcr.h"

MCR_EXPORT MCR_COLD int mcr_membership_open(int family)
{
	int fd;

	if (family != 4 && family != 6)
		return -EAFNOSUPPORT;
	fd = socket(__mcr_af(family), SOCK_DGRAM | SOCK_CLOEXEC, 0);
	return fd < 0 ? __mcr_neg_errno() : fd;
}

MCR_EXPORT MCR_COLD int mcr_membership_change(int fd, int ifindex, int family, const uint8_t *group,
					      const uint8_t *source, int source_specific, int join)
{
	int level = family == 6 ? IPPROTO_IPV6 : IPPROTO_IP;
	int rc;

	if (family != 4 && family != 6)
		return -EAFNOSUPPORT;
	if (!source_specific) {
		struct group_req req;

		memset(&req, 0, sizeof(req));
		req.gr_interface = (uint32_t)ifindex;
		__mcr_sockaddr(family, group, 0, &req.gr_group);
		rc = setsockopt(fd, level, join ? MCAST_JOIN_GROUP : MCAST_LEAVE_GROUP, &req, sizeof(req));
	} else {
		struct group_source_req req;

		memset(&req, 0, sizeof(req));
		req.gsr_interface = (uint32_t)ifindex;
		__mcr_sockaddr(family, group, 0, &req.gsr_group);
		__mcr_sockaddr(family, source, 0, &req.gsr_source);
		rc = setsockopt(fd, level, join ? MCAST_JOIN_SOURCE_GROUP : MCAST_LEAVE_SOURCE_GROUP, &req,
				sizeof(req));
	}
	return rc < 0 ? __mcr_neg_errno() : 0;
}
