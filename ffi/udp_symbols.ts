/** UDP sockets for the traffic tools (c/mcr_udp.h). */
export const UDP_SYMBOLS = {
  // int mcr_udp_sender_open(u32 ifaddr, int ttl, int loop)
  mcr_udp_sender_open: { parameters: ["u32", "i32", "i32"], result: "i32" },
  // int mcr_udp_send_batch(int fd, u32 group, int port, const uint8_t *buf, int size, int count, u32 seq_hi, u32 seq_lo)
  mcr_udp_send_batch: { parameters: ["i32", "u32", "i32", "buffer", "i32", "i32", "u32", "u32"], result: "i32" },
  // int mcr_udp_receiver_open(u32 group, int port, int ifindex)
  mcr_udp_receiver_open: { parameters: ["u32", "i32", "i32"], result: "i32" },
  // int mcr_udp_recv_batch(int fd, uint8_t *buf, int slot_size, int max, int32_t *out, int timeout_ms)
  mcr_udp_recv_batch: { parameters: ["i32", "buffer", "i32", "i32", "buffer", "i32"], result: "i32" },
  // int mcr_udp_close(int fd)
  mcr_udp_close: { parameters: ["i32"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;
