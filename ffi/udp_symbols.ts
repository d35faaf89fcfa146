/** UDP sockets for the traffic tools (c/mcr_udp.h). */
export const UDP_SYMBOLS = {
  // int mcr_udp_sender_open(int family, const u8 *src, int has_src, int ifindex, int ttl, int loop)
  mcr_udp_sender_open: { parameters: ["i32", "buffer", "i32", "i32", "i32", "i32"], result: "i32" },
  // int mcr_udp_send_batch(int fd, const u8 *name, int namelen, const u8 *buf, int size, int count,
  //                        u32 seq_hi, u32 seq_lo)
  mcr_udp_send_batch: {
    parameters: ["i32", "buffer", "i32", "buffer", "i32", "i32", "u32", "u32"],
    result: "i32",
  },
  // int mcr_udp_send_payloads(int fd, const u8 *name, int namelen, const u8 *buf,
  //                           const int32_t *lengths, int count)
  mcr_udp_send_payloads: {
    parameters: ["i32", "buffer", "i32", "buffer", "buffer", "i32"],
    result: "i32",
  },
  // int mcr_udp_receiver_open(int family, const u8 *addr, int port, int ifindex)
  mcr_udp_receiver_open: { parameters: ["i32", "buffer", "i32", "i32"], result: "i32" },
  // int mcr_udp_recv_batch(int fd, uint8_t *buf, int slot_size, int max, int32_t *out,
  //                        int32_t *times /* [2 * max]: sec, nsec */, int timeout_ms)
  mcr_udp_recv_batch: {
    parameters: ["i32", "buffer", "i32", "i32", "buffer", "buffer", "i32"],
    result: "i32",
  },
} as const satisfies Deno.ForeignLibraryInterface;
