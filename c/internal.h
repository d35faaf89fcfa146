/* Private helpers shared by libmcr's translation units. Not installed. */
#ifndef MCR_INTERNAL_H
#define MCR_INTERNAL_H

#include <errno.h>

/* Marks a function as part of the exported API (the build hides everything else). */
#define MCR_EXPORT __attribute__((visibility("default")))
/* Setup-time functions: keep them out of hot cache lines. */
#define MCR_COLD __attribute__((cold))

/* -errno of the last failed libc call, never 0 (a missing errno becomes -EIO). */
static inline int __mcr_neg_errno(void)
{
	return errno > 0 ? -errno : -EIO;
}

struct sockaddr_storage;
#include <stdint.h>
/* c/addr.c: (family 4|6, address bytes in network order, port) -> sockaddr; returns its length. */
int __mcr_sockaddr(int family, const uint8_t *addr, int port, struct sockaddr_storage *ss);
/* AF_INET or AF_INET6 for family 4 or 6. */
int __mcr_af(int family);
/* 1 if the address is multicast (224/4 or ff00::/8). */
int __mcr_is_multicast(int family, const uint8_t *addr);
/* setsockopt of an int; 0 or -errno. */
int __mcr_set_int(int fd, int level, int name, int value);
/* Binds fd to (family, addr, port), with IP(V6)_FREEBIND first when freebind; 0 or -errno. */
int __mcr_bind(int fd, int family, const uint8_t *addr, int port, int freebind);
/*
 * c/process.c: reads a small /proc or /sys file (Deno refuses them without
 * --allow-all) into buf as a string; its length, or -errno (-ENODATA: empty).
 */
int __mcr_read_text(const char *path, char *buf, int len);

/* c/arena.c. Locks a live arena and checks [offset, offset+len) lies in it (*addr = where);
 * every success must be followed by __mcr_arena_end (ok: register fd/mapping as an item). */
int __mcr_arena_begin(int arena, uint32_t offset, uint32_t len, uint64_t *addr);
void __mcr_arena_end(int arena, int fd, uint32_t offset, uint32_t len, int ok);
/* Puts the arena's PROT_NONE reservation back over a failed mapping. */
void __mcr_arena_uncover(uint64_t addr, uint64_t len);
/* Address of [offset, offset+len) in arena h, or 0 if out of range or unknown (no lock: arenas never go away). */
uint64_t __mcr_arena_address(int h, uint32_t offset, uint32_t len);

int __mcr_check_rx_geometry(unsigned block_size, unsigned block_count, unsigned frame_size);
int __mcr_check_tx_geometry(unsigned frame_size, unsigned frame_count);

#endif
