/**
 * THE symbol table of libmcr (c/mcr.h). JS names equal the C names. Hot-path
 * symbols take and return only i32 so V8 calls them through the fast path;
 * pointers and buffers appear only in setup calls.
 */
import { UDP_SYMBOLS } from "./udp_symbols.ts";

export const CORE_SYMBOLS = {
  // int mcr_abi_version(void)
  mcr_abi_version: { parameters: [], result: "i32" },
  // int mcr_liburing_version(void)
  mcr_liburing_version: { parameters: [], result: "i32" },
  // int mcr_layout(int32_t *out, int n)
  mcr_layout: { parameters: ["buffer", "i32"], result: "i32" },
  // int mcr_strerror(int err, char *buf, int len)
  mcr_strerror: { parameters: ["i32", "buffer", "i32"], result: "i32" },

  // int mcr_capabilities(uint32_t *out /* [2] */)
  mcr_capabilities: { parameters: ["buffer"], result: "i32" },
  // int mcr_process_exists(int pid)
  mcr_process_exists: { parameters: ["i32"], result: "i32" },
  // int mcr_signal_ignore(int sig)
  mcr_signal_ignore: { parameters: ["i32"], result: "i32" },
  // int mcr_timer_slack(int ns)
  mcr_timer_slack: { parameters: ["i32"], result: "i32" },
  // int mcr_thread_priority(int priority)
  mcr_thread_priority: { parameters: ["i32"], result: "i32" },
  // int mcr_pin_thread(int cpu)
  mcr_pin_thread: { parameters: ["i32"], result: "i32" },
  // int mcr_raise_nofile(void)
  mcr_raise_nofile: { parameters: [], result: "i32" },
  // int mcr_sd_notify(const char *state, uint32_t len)
  mcr_sd_notify: { parameters: ["buffer", "u32"], result: "i32" },
  // double mcr_monotonic_us(void)
  mcr_monotonic_us: { parameters: [], result: "f64" },
  // int mcr_open_fds(void)
  mcr_open_fds: { parameters: [], result: "i32" },
  // double mcr_now_us(void)   -- once per batch: the residence-time clock
  mcr_now_us: { parameters: [], result: "f64" },

  // int mcr_arena_open(uint64_t bytes)
  mcr_arena_open: { parameters: ["u64"], result: "i32" },
  // int mcr_arena_base(int arena, uint64_t *out_addr)
  mcr_arena_base: { parameters: ["i32", "buffer"], result: "i32" },
  // int mcr_arena_map(int arena, u32 offset, u32 len)
  mcr_arena_map: { parameters: ["i32", "u32", "u32"], result: "i32" },
  // int mcr_arena_adopt(int arena, int fd)
  mcr_arena_adopt: { parameters: ["i32", "i32"], result: "i32" },
  // int mcr_arena_release(int arena, int fd, u32 offset)
  mcr_arena_release: { parameters: ["i32", "i32", "u32"], result: "i32" },
  // int mcr_arena_return(int arena)
  mcr_arena_return: { parameters: ["i32"], result: "i32" },
  // int mcr_arena_fence(int arena)
  mcr_arena_fence: { parameters: ["i32"], result: "i32" },
  // int mcr_arena_items(int arena)
  mcr_arena_items: { parameters: ["i32"], result: "i32" },
  // int mcr_rx_open(int arena, u32 offset, int ifindex, u32 block_size, u32 block_count,
  //                 u32 frame_size, u32 retire_ms, u32 flags, u32 fanout_id)
  mcr_rx_open: {
    parameters: ["i32", "u32", "i32", "u32", "u32", "u32", "u32", "u32", "u32"],
    result: "i32",
  },
  // int mcr_tx_open(int arena, u32 offset, int ifindex, u32 frame_size, u32 frame_count, int qdisc_bypass)
  mcr_tx_open: { parameters: ["i32", "u32", "i32", "u32", "u32", "i32"], result: "i32" },
  // int mcr_ring_stats(int fd, uint32_t *out /* [3] */)
  mcr_ring_stats: { parameters: ["i32", "buffer"], result: "i32" },
  // int mcr_rx_set_filter(int fd, const uint32_t *entries /* 6 per entry */, int n, int pass_fragments)
  mcr_rx_set_filter: { parameters: ["i32", "buffer", "i32", "i32"], result: "i32" },

  // int mcr_if_info(const char *name, int32_t *out /* [16] */)
  mcr_if_info: { parameters: ["buffer", "buffer"], result: "i32" },

  // int mcr_if_ipv6(const char *name, uint8_t *out /* [16] */)
  mcr_if_ipv6: { parameters: ["buffer", "buffer"], result: "i32" },
  // int mcr_if_link_local(const char *name, uint8_t *out /* [16] */)
  mcr_if_link_local: { parameters: ["buffer", "buffer"], result: "i32" },
  // int mcr_if_stats(const char *name, double *out /* [4] */)
  mcr_if_stats: { parameters: ["buffer", "buffer"], result: "i32" },
  // int mcr_thread_name(const char *name)
  mcr_thread_name: { parameters: ["buffer"], result: "i32" },
  // int mcr_thread_id(void)
  mcr_thread_id: { parameters: [], result: "i32" },
  // int mcr_thread_state(int tid, double *out /* [2] */)
  mcr_thread_state: { parameters: ["i32", "buffer"], result: "i32" },
  // long long mcr_sysctl_number(const char *key)
  mcr_sysctl_number: { parameters: ["buffer"], result: "i64" },

  // int mcr_netlink_open(void)
  mcr_netlink_open: { parameters: [], result: "i32" },
  // int mcr_netlink_drain(int fd)
  mcr_netlink_drain: { parameters: ["i32"], result: "i32" },
  // int mcr_wake_open(void)
  mcr_wake_open: { parameters: [], result: "i32" },
  // int mcr_wake(int wake_fd)
  mcr_wake: { parameters: ["i32"], result: "i32" },
  // int mcr_fd_wait(int fd, int wake_fd, int timeout_ms) -- blocks: run in a thread of its own
  mcr_fd_wait: { parameters: ["i32", "i32", "i32"], result: "i32", nonblocking: true },

  // int mcr_ctl_open(int ifindex, int family, int proto, int allmulti)
  mcr_ctl_open: { parameters: ["i32", "i32", "i32", "i32"], result: "i32" },
  // int mcr_ctl_recv(int fd, uint8_t *buf, int len)
  mcr_ctl_recv: { parameters: ["i32", "buffer", "i32"], result: "i32" },
  // int mcr_ctl_drops(int fd)
  mcr_ctl_drops: { parameters: ["i32"], result: "i32" },
  // int mcr_ctl_send(int fd, int ifindex, int family, const uint8_t *buf, int len, const uint8_t *mac /* [6] */)
  mcr_ctl_send: { parameters: ["i32", "i32", "i32", "buffer", "i32", "buffer"], result: "i32" },

  // int mcr_raw_open(int proto)
  mcr_raw_open: { parameters: ["i32"], result: "i32" },
  // int mcr_raw_send(int fd, const uint8_t *dst /* [4] */, const uint8_t *buf, int len)
  mcr_raw_send: { parameters: ["i32", "buffer", "buffer", "i32"], result: "i32" },

  // int mcr_sockaddr_build(int family, const uint8_t *addr, int port, uint8_t *out /* [28] */)
  mcr_sockaddr_build: { parameters: ["i32", "buffer", "i32", "buffer"], result: "i32" },

  // int mcr_socket_close(int fd)   -- every UDP socket libmcr opens
  mcr_socket_close: { parameters: ["i32"], result: "i32" },

  // int mcr_membership_open(int family)
  mcr_membership_open: { parameters: ["i32"], result: "i32" },
  // int mcr_membership_change(int fd, int ifindex, int family, const u8 *group, const u8 *source,
  //                           int source_specific, int join)
  mcr_membership_change: {
    parameters: ["i32", "i32", "i32", "buffer", "buffer", "i32", "i32"],
    result: "i32",
  },

  // int mcr_routed_open(int family, const u8 *dst, const u8 *src, int has_src, int ifindex, int hops, int tclass)
  mcr_routed_open: {
    parameters: ["i32", "buffer", "buffer", "i32", "i32", "i32", "i32"],
    result: "i32",
  },
  // int mcr_routed_send(int fd, const u8 *name, int namelen, int arena, u32 offset, int slot_size,
  //                     const int32_t *lens, int count, int32_t *out /* [4] */)   -- hot path: one sendmmsg
  mcr_routed_send: {
    parameters: ["i32", "buffer", "i32", "i32", "u32", "i32", "buffer", "i32", "buffer"],
    result: "i32",
  },
  // int mcr_udp_absorb_open(int family, const u8 *addr, int port, int ifindex)
  mcr_udp_absorb_open: { parameters: ["i32", "buffer", "i32", "i32"], result: "i32" },

  // int mcr_waiter_open(u32 entries)
  mcr_waiter_open: { parameters: ["u32"], result: "i32" },
  // int mcr_waiter_add_fd(int h, int fd)
  mcr_waiter_add_fd: { parameters: ["i32", "i32"], result: "i32" },
  // int mcr_waiter_remove_fd(int h, int fd)
  mcr_waiter_remove_fd: { parameters: ["i32", "i32"], result: "i32" },
  // int mcr_waiter_wait(int h, int timeout_ms)             -- hot path: blocks
  mcr_waiter_wait: { parameters: ["i32", "i32"], result: "i32" },
  // int mcr_waiter_nap(int h, int us)                      -- hot path: sleeps, packets do not wake it
  mcr_waiter_nap: { parameters: ["i32", "i32"], result: "i32" },
  // int mcr_waiter_queue_kick(int h, int fd)               -- hot path
  mcr_waiter_queue_kick: { parameters: ["i32", "i32"], result: "i32" },
  // int mcr_waiter_submit(int h)                           -- hot path: one io_uring_enter
  mcr_waiter_submit: { parameters: ["i32"], result: "i32" },
  // int mcr_waiter_notify(int h)
  mcr_waiter_notify: { parameters: ["i32"], result: "i32" },
  // int mcr_waiter_stats(int h, int32_t *out /* [5] */)
  mcr_waiter_stats: { parameters: ["i32", "buffer"], result: "i32" },
  // int mcr_waiter_close(int h)
  mcr_waiter_close: { parameters: ["i32"], result: "i32" },
  // int mcr_waiter_fence(int h)   -- any thread; frees nothing a stuck owner may touch
  mcr_waiter_fence: { parameters: ["i32"], result: "i32" },
  // int mcr_waiter_state(int h)   -- 1 open, 2 closed with a thread still inside, 0 freed
  mcr_waiter_state: { parameters: ["i32"], result: "i32" },
  // int mcr_waiter_stall(int h, int ms)   -- fault injection
  mcr_waiter_stall: { parameters: ["i32", "i32"], result: "i32" },
  // int mcr_waiter_tally(int32_t *out /* [3] */)
  mcr_waiter_tally: { parameters: ["buffer"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

/** Every symbol libmcr exports. */
export const SYMBOLS = { ...CORE_SYMBOLS, ...UDP_SYMBOLS } as const;

export type McrSymbols = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];
