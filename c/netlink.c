/*
 * Interface change notifications: a NETLINK_ROUTE socket subscribed to link
 * and address events. The supervisor waits for it in a thread of its own
 * (mcr_fd_wait as a nonblocking FFI call), so an idle relay is woken
 * only when an interface changes, and then re-reads its interfaces.
 */
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <stdint.h>
#include <sys/eventfd.h>
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

MCR_EXPORT MCR_COLD int mcr_wake_open(void)
{
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	return fd < 0 ? __mcr_neg_errno() : fd;
}

MCR_EXPORT int mcr_wake(int wake_fd)
{
	uint64_t one = 1;

	return write(wake_fd, &one, sizeof(one)) == sizeof(one) ? 0 : __mcr_neg_errno();
}

MCR_EXPORT int mcr_fd_wait(int fd, int wake_fd, int timeout_ms)
{
	struct pollfd p[2] = { { .fd = fd, .events = POLLIN }, { .fd = wake_fd, .events = POLLIN } };
	int n;

	do
		n = poll(p, 2, timeout_ms);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return __mcr_neg_errno();
	if (p[1].revents) {
		uint64_t v;
		while (read(wake_fd, &v, sizeof(v)) == sizeof(v))
			;
		return 2;
	}
	return p[0].revents ? 1 : 0;
}
