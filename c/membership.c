/*
 * IGMP membership through a helper UDP socket: joining a group on an
 * interface makes the kernel report it (IGMPv2/v3) and program the NIC's
 * multicast filter, so the group's frames reach the RX ring. Closing the
 * socket leaves every group it joined.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"
#include "mcr.h"

MCR_EXPORT MCR_COLD int mcr_membership_open(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	return fd < 0 ? __mcr_neg_errno() : fd;
}

static void fill_in(struct sockaddr_storage *ss, uint32_t addr)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(addr);
}

MCR_EXPORT MCR_COLD int mcr_membership_change(int fd, int ifindex, uint32_t group, uint32_t source, int join)
{
	int rc;

	if (source == 0) {
		struct group_req req;

		memset(&req, 0, sizeof(req));
		req.gr_interface = (uint32_t)ifindex;
		fill_in(&req.gr_group, group);
		rc = setsockopt(fd, IPPROTO_IP, join ? MCAST_JOIN_GROUP : MCAST_LEAVE_GROUP, &req, sizeof(req));
	} else {
		struct group_source_req req;

		memset(&req, 0, sizeof(req));
		req.gsr_interface = (uint32_t)ifindex;
		fill_in(&req.gsr_group, group);
		fill_in(&req.gsr_source, source);
		rc = setsockopt(fd, IPPROTO_IP, join ? MCAST_JOIN_SOURCE_GROUP : MCAST_LEAVE_SOURCE_GROUP, &req,
				sizeof(req));
	}
	return rc < 0 ? __mcr_neg_errno() : 0;
}

MCR_EXPORT MCR_COLD int mcr_membership_close(int fd)
{
	return close(fd) < 0 ? __mcr_neg_errno() : 0;
}
