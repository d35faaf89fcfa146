/*
 * mcr_rx_set_filter(): the kernel's classic BPF checker accepts the program
 * for IPv4 entries, IPv6 entries, both together, and more entries than one
 * program holds (the match-all fallback). Attached to a plain UDP socket,
 * which runs the same checker as a packet socket.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../mcr.h"

static int failures;

static void expect(int rc, const char *what)
{
	if (rc != 0) {
		fprintf(stderr, "filter_test: %s: rc %d\n", what, rc);
		failures++;
	}
}

static void entry(uint32_t *e, uint32_t family, uint32_t w0, uint32_t w1, uint32_t w2, uint32_t w3, uint32_t port)
{
	e[0] = family;
	e[1] = w0;
	e[2] = w1;
	e[3] = w2;
	e[4] = w3;
	e[5] = port;
}

int main(void)
{
	static uint32_t e[6 * 600];
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	int i;

	if (fd < 0)
		return 77;
	entry(e, 4, 0xef010101, 0, 0, 0, 5001);
	expect(mcr_rx_set_filter(fd, e, 1, 0), "one IPv4 entry");
	expect(mcr_rx_set_filter(fd, e, 1, 1), "one IPv4 entry, fragments");
	entry(e, 6, 0xff3e0000, 0, 0, 0x00010001, 5001);
	expect(mcr_rx_set_filter(fd, e, 1, 0), "one IPv6 entry");
	entry(e + 6, 4, 0xef010102, 0, 0, 0, 5002);
	entry(e + 12, 6, 0xff3e0000, 0, 0, 0x00010001, 5003);
	expect(mcr_rx_set_filter(fd, e, 3, 1), "IPv4 and IPv6 entries, a group twice");
	for (i = 0; i < 600; i++)
		entry(e + 6 * i, (i & 1) ? 6 : 4, 0xef000000u + (uint32_t)i, 0, 0, (uint32_t)i, 5000);
	expect(mcr_rx_set_filter(fd, e, 600, 0), "600 entries (match-all fallback)");
	expect(mcr_rx_set_filter(fd, e, 0, 0), "no entries");
	close(fd);
	return failures ? 1 : 0;
}
