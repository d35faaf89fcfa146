/*
 * libmcr: the native half of mcr, a userspace multicast relay.
 *
 * A narrow C API over AF_PACKET rings and io_uring. The per-packet work
 * happens in TypeScript over the mapped rings; this library only sets things
 * up, waits, and kicks transmission.
 *
 * Return convention (every function unless stated): >= 0 is a count, an fd or
 * a handle; < 0 is -errno. Nothing here prints, exits or aborts, and no caller
 * reads errno after a call.
 *
 * Lifecycle of a worker's rings (packet_mmap style):
 *
 *   mcr_arena_open()              one PROT_NONE virtual range per worker (a handle)
 *        |
 *        +-- mcr_rx_open()  x inputs   TPACKET_V3 RX ring mapped at arena+offset
 *        +-- mcr_tx_open()  x outputs  TPACKET_V2 TX ring mapped at arena+offset
 *        |                  (one ArrayBuffer over the arena covers every ring,
 *        |                   so TypeScript copies RX -> TX with copyWithin)
 *        |
 *   mcr_waiter_open()             io_uring + eventfd; mcr_waiter_add_fd(rx fds)
 *        |
 *   loop: mcr_waiter_wait()  -> TS walks RX blocks, fills TX frames
 *         mcr_waiter_queue_kick(tx fd) per dirty TX ring
 *         mcr_waiter_submit()       one io_uring_enter for all kicks
 *        |
 *   mcr_arena_release()           socket closed, range re-covered by
 *                                 anonymous zero pages (old views stay safe)
 *
 * A worker that is stuck is fenced, never freed under its feet:
 *   mcr_arena_fence() + mcr_waiter_fence() from the supervisor; the waiter's
 *   memory goes when the stuck thread leaves its call (see c/uring.c).
 */
#ifndef MCR_H
#define MCR_H

#include <stdint.h>

#define MCR_ABI_VERSION 20

/* ---- library identity ---------------------------------------------------- */

/*
 * Pins the calling thread to one CPU (cpu >= 0) or gives it back the
 * process's CPUs (cpu < 0). -EINVAL: no such CPU, or not allowed here.
 */
int mcr_pin_thread(int cpu);

/* The calling thread's timer slack, ns (how late its timed sleeps may end). 0 or -errno. */
int mcr_timer_slack(int ns);
/* The calling thread's scheduling: SCHED_FIFO at priority 1-99, or 0: the
 * ordinary policy. 0 or -errno (-EPERM without CAP_SYS_NICE or RLIMIT_RTPRIO). */
int mcr_thread_priority(int priority);

/* Returns MCR_ABI_VERSION. */
int mcr_abi_version(void);

/* Returns the liburing version libmcr was built against as major*1000+minor (e.g. 2003). */
int mcr_liburing_version(void);

/*
 * Fills out[0..n) with the offsets/sizes TypeScript relies on, in the order of
 * enum mcr_layout_slot below. Returns the number of slots written (<= n).
 */
enum mcr_layout_slot {
	MCR_L_BLK_STATUS = 0,     /* offsetof(tpacket_block_desc, hdr.bh1.block_status) */
	MCR_L_BLK_NUM_PKTS,       /* ... hdr.bh1.num_pkts */
	MCR_L_BLK_FIRST_PKT,      /* ... hdr.bh1.offset_to_first_pkt */
	MCR_L_TP3_NEXT_OFFSET,    /* offsetof(tpacket3_hdr, tp_next_offset) */
	MCR_L_TP3_SNAPLEN,        /* tp_snaplen */
	MCR_L_TP3_LEN,            /* tp_len */
	MCR_L_TP3_STATUS,         /* tp_status */
	MCR_L_TP3_MAC,            /* tp_mac (u16) */
	MCR_L_TP3_VLAN_TCI,       /* hv1.tp_vlan_tci */
	MCR_L_TP2_STATUS,         /* offsetof(tpacket2_hdr, tp_status) */
	MCR_L_TP2_LEN,            /* tp_len */
	MCR_L_TP2_DATA,           /* where a TX frame's data starts: TPACKET2_HDRLEN - sizeof(sockaddr_ll) */
	MCR_L_STATUS_USER,        /* TP_STATUS_USER */
	MCR_L_STATUS_CSUMNOTREADY,/* TP_STATUS_CSUMNOTREADY */
	MCR_L_STATUS_VLAN_VALID,  /* TP_STATUS_VLAN_VALID */
	MCR_L_STATUS_SEND_REQUEST,/* TP_STATUS_SEND_REQUEST */
	MCR_L_STATUS_SENDING,     /* TP_STATUS_SENDING */
	MCR_L_STATUS_WRONG_FORMAT,/* TP_STATUS_WRONG_FORMAT */
	MCR_L_TP2_SNAPLEN,        /* offsetof(tpacket2_hdr, tp_snaplen) (RX frames) */
	MCR_L_TP2_MAC,            /* offsetof(tpacket2_hdr, tp_mac) (u16) */
	MCR_L_TP2_SEC,            /* offsetof(tpacket2_hdr, tp_sec): the kernel's receive time */
	MCR_L_TP2_NSEC,           /* offsetof(tpacket2_hdr, tp_nsec) */
	MCR_L_TP3_SEC,            /* offsetof(tpacket3_hdr, tp_sec): the kernel's receive time */
	MCR_L_TP3_NSEC,           /* offsetof(tpacket3_hdr, tp_nsec) */
	MCR_L_TP2_VLAN_TCI,       /* offsetof(tpacket2_hdr, tp_vlan_tci) (u16) */
	MCR_L_TP3_HDR_SIZE,       /* sizeof(struct tpacket3_hdr): a V3 packet header must fit in its block */
	MCR_L_COUNT
};
int mcr_layout(int32_t *out, int n);

/* Writes a NUL-terminated description of -err (e.g. "no such device") into buf. Returns its length. */
int mcr_strerror(int err, char *buf, int len);

/*
 * Writes the effective capability set of the calling thread: out[0] = bits
 * 0-31, out[1] = bits 32-63 (CAP_NET_ADMIN = 12, CAP_NET_RAW = 13). Returns 0.
 */
int mcr_capabilities(uint32_t *out);

/* Returns 1 if a process with this pid exists, else 0. */
int mcr_process_exists(int pid);

/* Sets sig's disposition to SIG_IGN; returns what it replaced: 0 default, 1 ignored, 2 a handler. */
int mcr_signal_ignore(int sig);

/* Raises the soft RLIMIT_NOFILE to the hard limit; returns the new soft limit. */
int mcr_raise_nofile(void);

/* CLOCK_REALTIME in microseconds (the clock of RX ring timestamps). */
double mcr_now_us(void);

/*
 * sd_notify(3): sends `state` (len bytes of KEY=VALUE lines) to $NOTIFY_SOCKET.
 * Returns 1 when sent, 0 when there is no $NOTIFY_SOCKET, a negative errno on failure.
 */
int mcr_sd_notify(const char *state, uint32_t len);

/* CLOCK_MONOTONIC in microseconds (for systemd's MONOTONIC_USEC). */
double mcr_monotonic_us(void);

/* Open file descriptors of this process, or a negative errno. */
int mcr_open_fds(void);

/* ---- arena ----------------------------------------------------------------- */

/*
 * Opens an arena: `bytes` of reserved address space (PROT_NONE) in which a
 * worker's rings and batch areas are mapped. Returns a small handle. An empty
 * arena returned with mcr_arena_return() is reused; the range itself is never
 * unmapped (views over it live as long as the process).
 */
int mcr_arena_open(uint64_t bytes);

/* Writes the arena's address into *out_addr (ffi/ only: it builds the one view). */
int mcr_arena_base(int arena, uint64_t *out_addr);

/*
 * Makes [offset, offset+len) plain read/write memory (anonymous zero pages),
 * for buffers TypeScript fills and C reads (routed output batches). Release
 * with mcr_arena_release(arena, -1, offset).
 */
int mcr_arena_map(int arena, uint32_t offset, uint32_t len);

/* Registers a socket the arena's owner opened elsewhere (routed outputs), so a fence reaches it. */
int mcr_arena_adopt(int arena, int fd);

/*
 * Releases one item: the socket fd (or, with fd -1, the plain mapping at
 * offset). Its range is covered with zeroed read/write pages (a stale view
 * reads status 0, kernel-owned, and moves on) and the fd closed. -ENOENT if
 * not registered, -ECANCELED if the arena was fenced.
 */
int mcr_arena_release(int arena, int fd, uint32_t offset);

/* The owner stopped normally and released everything: the arena may serve the next worker. -EBUSY if not empty. */
int mcr_arena_return(int arena);

/*
 * Fences the arena of a worker thread that may be stuck (any thread may
 * call; never blocks: -EBUSY if the owner is inside an arena call, try
 * again). Every socket's fd becomes a /dev/null descriptor (the kernel
 * releases the socket: it leaves its fanout group; the number is never
 * reused under the stuck thread) and every mapping is covered with zero
 * pages (never a fault). Later calls on the arena return -ECANCELED.
 * Returns the number of items fenced.
 */
int mcr_arena_fence(int arena);

/* Items registered (sockets and mappings), -ECANCELED if fenced, -EBUSY if busy. */
int mcr_arena_items(int arena);

/* ---- rings ---------------------------------------------------------------- */

/* Flags for mcr_rx_open. */
#define MCR_RX_IGNORE_OUTGOING 0x1  /* PACKET_IGNORE_OUTGOING: never see our own TX */
#define MCR_RX_FANOUT_HASH     0x2  /* join PACKET_FANOUT group `fanout_id` (PACKET_FANOUT_HASH: per-flow order) */
#define MCR_RX_FRAMES          0x4  /* TPACKET_V2: one frame per packet, status per frame (the reader is woken per
				     * packet, no block retire timer); block_size must be a multiple of frame_size */
#define MCR_RX_VNET_HDR        0x8  /* PACKET_VNET_HDR: a struct virtio_net_hdr (10 bytes) just before each
				     * packet's MAC header, carrying the segment size of a GSO packet */

/*
 * Opens an AF_PACKET/SOCK_RAW socket for ETH_P_ALL bound to ifindex, sets
 * TPACKET_V3 and an RX ring of block_count blocks of block_size bytes (frames
 * of frame_size; retire timeout retire_ms), and maps it at `offset` of the
 * arena (registered there). Checks the kernel's geometry constraints first
 * (-EINVAL, nothing allocated). Returns the socket fd.
 * Ring bytes mapped = block_size * block_count.
 */
int mcr_rx_open(int arena, uint32_t offset, int ifindex, uint32_t block_size, uint32_t block_count,
		uint32_t frame_size, uint32_t retire_ms, uint32_t flags, uint32_t fanout_id);

/*
 * Opens an AF_PACKET/SOCK_RAW socket (protocol 0: sends only) bound to ifindex
 * with TPACKET_V2 and a TX ring of frame_count frames of frame_size bytes,
 * mapped at `offset` of the arena. qdisc_bypass != 0 sets PACKET_QDISC_BYPASS.
 * PACKET_LOSS is set: a frame the kernel refuses is marked WRONG_FORMAT and
 * skipped, never a stall. Ring bytes mapped = frame_size * frame_count
 * (frame_size a power of two; frames are packed into 64 KiB blocks).
 */
int mcr_tx_open(int arena, uint32_t offset, int ifindex, uint32_t frame_size, uint32_t frame_count,
		int qdisc_bypass);

/* Rings are closed with mcr_arena_release(arena, fd, 0). */

/*
 * Reads and resets PACKET_STATISTICS: out[0] = tp_packets, out[1] = tp_drops,
 * out[2] = tp_freeze_q_cnt. Returns 0.
 */
int mcr_ring_stats(int fd, uint32_t *out);

/*
 * Attaches a classic BPF filter that accepts only IPv4/UDP and IPv6/UDP
 * frames (untagged or with one 802.1Q tag) whose destination address and
 * port are one of the n entries. Entry i is 6 u32 at entries[6i]: family
 * (4|6), the address as 4 words in host byte order (IPv4: word 0 only), port.
 * n == 0 attaches a filter that accepts nothing. Returns 0.
 * IPv4 non-first fragments pass when `pass_fragments` (their group is
 * checked); IPv6 packets with extension headers pass on their destination.
 */
int mcr_rx_set_filter(int fd, const uint32_t *entries, int n, int pass_fragments);

/* ---- interfaces ----------------------------------------------------------- */

/*
 * Looks an interface up by name and fills out (16 x int32):
 *   [0] ifindex  [1] mtu  [2] flags (IFF_*)  [3] IPv4 address (host order, 0 if none)
 *   [4..9] MAC bytes  [10] 1 if the interface exists
 * Returns 0, or -ENODEV.
 */
int mcr_if_info(const char *name, int32_t *out);

/*
 * Writes the interface's preferred IPv6 address (16 bytes) into out: a
 * global one if it has any, else its link-local one. Returns 1 (global),
 * 2 (link-local) or 0 (none; out zeroed).
 */
int mcr_if_ipv6(const char *name, uint8_t *out);

/* The interface's link-local IPv6 address (fe80::/10) into out[16]: 1 found, 0 none, or -errno. */
int mcr_if_link_local(const char *name, uint8_t *out);

/*
 * The interface's own kernel counters (/sys/class/net/NAME/statistics:
 * read here, as Deno refuses reads under /sys/devices without --allow-all)
 * into out[4]: rx_packets, rx_dropped, tx_packets, tx_dropped. Returns 0
 * or -errno (-ENOENT: no such interface in this network namespace).
 */
int mcr_if_stats(const char *name, double *out);

/*
 * A numeric sysctl by its dotted key ("net.ipv4.igmp_max_memberships"),
 * read from /proc/sys here (Deno refuses /proc reads without --allow-all).
 * Returns the number (>= 0) or -errno.
 */
long long mcr_sysctl_number(const char *key);

/* Names the calling thread (its comm, at most 15 bytes: what top -H and /proc show). */
int mcr_thread_name(const char *name);

/* The calling thread's kernel id (gettid). */
int mcr_thread_id(void);

/*
 * A thread of this process as the scheduler sees it (/proc/self/task/TID/stat,
 * read here: Deno refuses /proc without --allow-all): out[0] its state letter
 * ('R' running or runnable, 'S' sleeping, 'D' in uninterruptible wait, ...),
 * out[1] the CPU time it has had, ms (10 ms resolution). Returns 0 or -errno.
 */
int mcr_thread_state(int tid, double *out);

/* Opens a non-blocking NETLINK_ROUTE socket subscribed to link and address events. Returns its fd. */
int mcr_netlink_open(void);

/* Reads every pending event without blocking; returns how many were link/address events (0: none). */
int mcr_netlink_drain(int fd);

/* An eventfd that wakes mcr_fd_wait (non-blocking, close-on-exec). Returns its fd. */
int mcr_wake_open(void);

/* Wakes a thread blocked in mcr_fd_wait on this wake fd. Thread-safe. */
int mcr_wake(int wake_fd);

/*
 * Blocks (in a thread of its own: a nonblocking FFI call) until fd (the
 * netlink socket, a control socket) has something to read (returns 1), the wake fd was written
 * (returns 2) or timeout_ms passed (returns 0). Neither fd may be closed
 * while a call on it can still be running.
 */
int mcr_fd_wait(int fd, int wake_fd, int timeout_ms);

/* ---- control sockets (c/control.c) ------------------------------------------ */

/*
 * A socket for one routing protocol's packets on one interface (IGMP, PIM,
 * MLD): AF_PACKET cooked (it reads and writes whole IP packets, headers
 * included), bound to ifindex, filtered in the kernel to IPv4 protocol
 * `proto` (family 4) or to MLD messages (family 6: ICMPv6 types 130-132
 * and 143, directly or behind an 8-byte hop-by-hop header; proto unused),
 * never its own packets. With allmulti != 0 it receives all multicast of
 * the link (a router's reports to groups this host never joined); with 0,
 * only what the host receives anyway (queries to all-hosts / all-nodes and
 * to groups it joined). Non-blocking. Returns the fd.
 */
int mcr_ctl_open(int ifindex, int family, int proto, int allmulti);

/*
 * Reads one packet into buf (at most len bytes). Returns its full length
 * (more than len: it was cut), or -EAGAIN when there is none.
 */
int mcr_ctl_recv(int fd, uint8_t *buf, int len);

/*
 * Packets the kernel dropped because the socket's receive buffer was full,
 * since the last call (PACKET_STATISTICS, which resets on read); or -errno.
 */
int mcr_ctl_drops(int fd);

/* Sends one IP packet (len bytes) out of ifindex to the link address mac[6]. */
int mcr_ctl_send(int fd, int ifindex, int family, const uint8_t *buf, int len, const uint8_t *mac);

/*
 * A raw IPv4 socket of protocol `proto` for unicast sends (PIM Registers to
 * an RP): the kernel routes and writes the IP header. It reads nothing.
 */
int mcr_raw_open(int proto);

/* Sends buf (the protocol message, len bytes) to the IPv4 address dst[4]. */
int mcr_raw_send(int fd, const uint8_t *dst, const uint8_t *buf, int len);

/* ---- addresses ------------------------------------------------------------ */

/*
 * Addresses cross the boundary as (family 4|6, bytes in network order: 4 or
 * 16). Writes the sockaddr_in / sockaddr_in6 for (addr, port) into out (>= 28
 * bytes) and returns its length.
 */
int mcr_sockaddr_build(int family, const uint8_t *addr, int port, uint8_t *out);

/* ---- multicast membership ------------------------------------------------- */

/* Opens a UDP helper socket of family 4 or 6 used only to hold memberships. Returns its fd. */
int mcr_membership_open(int family);

/*
 * Joins (join=1) or leaves (join=0) group on ifindex through the helper socket
 * fd (IGMP for family 4, MLD for 6); source_specific makes it
 * (source, group) (MCAST_JOIN_SOURCE_GROUP: IGMPv3/MLDv2 INCLUDE). -ENOBUFS
 * means the per-socket limit (net.ipv4.igmp_max_memberships /
 * net.ipv6.mld_max_msf) is reached.
 */
int mcr_membership_change(int fd, int ifindex, int family, const uint8_t *group, const uint8_t *source,
			  int source_specific, int join);

/* The helper socket is closed with mcr_socket_close() (the kernel leaves every group it held). */

/* ---- routed egress and unicast inputs ------------------------------------- */

/* Most datagrams one mcr_routed_send() call takes. */
#define MCR_ROUTED_BATCH 64

/*
 * Opens a non-blocking UDP socket of family 4|6 for a routed output to dst:
 * bound to ifindex when > 0 (SO_BINDTOIFINDEX; also the multicast interface),
 * TTL / hop limit `hops` (multicast or unicast, by dst), IP_TOS / IPV6_TCLASS
 * = tclass when >= 0, multicast loop off, bound to src when has_src
 * (freebind). Returns the fd.
 */
int mcr_routed_open(int family, const uint8_t *dst, const uint8_t *src, int has_src, int ifindex, int hops,
		    int tclass);

/*
 * Sends `count` (<= MCR_ROUTED_BATCH) datagrams to the sockaddr `name` with
 * sendmmsg(MSG_DONTWAIT): datagram i is lens[i] bytes at data + i*slot_size.
 * Returns how many were sent; out[0] = datagrams that failed (each skipped),
 * out[1] = last errno (positive, 0 if none), out[2] = datagrams not sent
 * because the socket buffer was full (the batch ends there), out[3] = bytes
 * sent. The data is arena memory at `offset`, made writable by mcr_arena_map().
 */
int mcr_routed_send(int fd, const uint8_t *name, int namelen, int arena, uint32_t offset, int slot_size,
		    const int32_t *lens, int count, int32_t *out);

/*
 * Opens a UDP socket bound to addr:port (freebind; on ifindex when > 0) with
 * a filter that drops everything: a unicast input is read from the RX ring,
 * and this keeps the host from answering it with ICMP port unreachable.
 */
int mcr_udp_absorb_open(int family, const uint8_t *addr, int port, int ifindex);

/* Closes a UDP socket opened by libmcr (routed, absorbing, membership, traffic tools). */
int mcr_socket_close(int fd);

/* ---- waiter: io_uring wait point + batched TX kicks ------------------------ */

/*
 * Creates an io_uring of `entries` SQEs plus an eventfd registered for poll.
 * Returns a small handle (>= 0) naming it in the calls below.
 */
int mcr_waiter_open(uint32_t entries);

/* Adds a multishot POLLIN on fd (an RX ring socket). */
int mcr_waiter_add_fd(int h, int fd);

/* Cancels the poll on fd. */
int mcr_waiter_remove_fd(int h, int fd);

/*
 * Submits anything queued, then waits up to timeout_ms for at least one
 * readiness event (RX ring or eventfd). Drains the eventfd and reaps every
 * completion (send results are tallied, see mcr_waiter_stats). Returns the
 * number of readiness completions seen (0 on timeout). -EINTR is returned as 0.
 */
int mcr_waiter_wait(int h, int timeout_ms);

/* Queues an IORING_OP_SEND(fd, NULL, 0, MSG_DONTWAIT): the kernel sends every
 * frame marked SEND_REQUEST in fd's TX ring. Not submitted until _submit/_wait.
 * A kick that finds the socket's send buffer full is retried automatically. */
int mcr_waiter_queue_kick(int h, int fd);

/*
 * Submits every queued kick and sleeps up to `us` microseconds without
 * arming the RX ring polls: packets arriving meanwhile do not wake the
 * thread (the control eventfd does). Returns the ready events, or -errno.
 */
int mcr_waiter_nap(int h, int us);

/* Submits queued kicks in one io_uring_enter, reaps finished completions. Returns submitted count. */
int mcr_waiter_submit(int h);

/* Wakes a worker blocked in mcr_waiter_wait (writes the eventfd). Thread-safe. */
int mcr_waiter_notify(int h);

/*
 * Reads and resets the tallies: out[0] = kicks completed, out[1] = kicks
 * failed, out[2] = last failure as a positive errno (0 if none), out[3] =
 * socket errors cleared on polled RX sockets (e.g. link down), out[4] =
 * kicks deferred because the send buffer was full (EAGAIN/ENOBUFS: the frames
 * stay queued and are kicked again at the next wait or submit). Returns 0.
 */
int mcr_waiter_stats(int h, int32_t *out);

/*
 * Closes the waiter. Its io_uring and eventfd are freed by the last thread
 * to leave a call on it (never while a thread is inside one). Later calls
 * with the handle return -EBADF.
 */
int mcr_waiter_close(int h);

/*
 * Closes the waiter of a worker that may be stuck inside a call (any thread):
 * every armed poll is cancelled at once (io_uring sync cancel; the ring
 * sockets it watched lose that reference), the waiter is woken, and its
 * memory is freed when the stuck thread leaves its call.
 */
int mcr_waiter_fence(int h);

/* 1 open, 2 closed but a thread is still inside a call (its memory is kept), 0 freed. */
int mcr_waiter_state(int h);

/* Fault injection: the next mcr_waiter_wait first sleeps ms inside native code. */
int mcr_waiter_stall(int h, int ms);

/* Process-wide tallies: out[0] waiters freed, out[1] freed by a thread leaving a call
 * after the close (deferred), out[2] freed while a thread was inside (0 by design). */
int mcr_waiter_tally(int32_t *out);

#endif
