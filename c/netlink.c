/*
 * Interface change notifications: a NETLINK_ROUTE socket subscribed to link
 * and address events, read without blocking. The supervisor re-reads its
 * interfaces when anything arrived, instead of polling each one every second.
 */
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"
#include "mcr.h"

MCR_EXPORT MCR_COLD int mcr_netlink_open(void)
{
	struct sockaddr_nl sa;
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);

	if (fd < 0)
		return __mcr_neg_errno();
	memset(&sa, 0, sizeof(sa));
	sa.nl_family = AF_NETLINK;
	sa.nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = __mcr_neg_errno();
		close(fd);
		return err;
	}
	return fd;
}

MCR_EXPORT int mcr_netlink_drain(int fd)
{
	char buf[8192];
	int messages = 0;

	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return messages;
			if (errno == ENOBUFS) /* events were lost: something changed */
				return messages + 1;
			return __mcr_neg_errno();
		}
		if (n == 0)
			return messages;
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (unsigned)n); h = NLMSG_NEXT(h, n))
			if (h->nlmsg_type == RTM_NEWLINK || h->nlmsg_type == RTM_DELLINK ||
			    h->nlmsg_type == RTM_NEWADDR || h->nlmsg_type == RTM_DELADDR)
				messages++;
	}
}
