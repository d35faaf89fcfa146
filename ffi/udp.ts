/** Batched UDP multicast sockets for `mcr gen` and `mcr sink` (c/udp.c). */
import { check } from "./errno.ts";
import { loadLibrary } from "./library.ts";
import type { McrSymbols } from "./symbols.ts";

/** Most datagrams per batch call (MCR_UDP_BATCH). */
export const UDP_BATCH = 64;

function dotted(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

export class UdpSender {
  readonly #lib: McrSymbols;
  private constructor(readonly fd: number, lib: McrSymbols) {
    this.#lib = lib;
  }

  /** ifaddr: source/interface address as u32 (0: routing decides). */
  static open(ifaddr: number, ttl: number, loop = false): UdpSender {
    const lib = loadLibrary();
    const fd = check(lib.mcr_udp_sender_open(ifaddr >>> 0, ttl, loop ? 1 : 0), "mcr_udp_sender_open",
      `Cannot open a UDP sender on address "${dotted(ifaddr)}"`);
    return new UdpSender(fd, lib);
  }

  /** Sends `count` copies of template with sequence numbers seq, seq+1, ... (seq < 2^53). */
  sendBatch(group: number, port: number, template: Uint8Array, count: number, seq: number): number {
    const hi = Math.floor(seq / 4294967296);
    const lo = seq >>> 0;
    return this.#lib.mcr_udp_send_batch(this.fd, group >>> 0, port, template, template.length, count, hi, lo);
  }

  close(): void {
    this.#lib.mcr_udp_close(this.fd);
  }
}

export class UdpReceiver {
  readonly #lib: McrSymbols;
  /** out[i] = length of datagram i; out[UDP_BATCH] = kernel drops; out[UDP_BATCH+1] = last TTL. */
  readonly lengths = new Int32Array(UDP_BATCH + 2);
  readonly buffer: Uint8Array;
  private constructor(readonly fd: number, readonly slotSize: number, lib: McrSymbols) {
    this.#lib = lib;
    this.buffer = new Uint8Array(slotSize * UDP_BATCH);
  }

  static open(group: number, port: number, ifindex: number, slotSize = 2048): UdpReceiver {
    const lib = loadLibrary();
    const fd = check(lib.mcr_udp_receiver_open(group >>> 0, port, ifindex), "mcr_udp_receiver_open",
      `Cannot receive group "${dotted(group)}" port ${port}`);
    return new UdpReceiver(fd, slotSize, lib);
  }

  /** Receives up to UDP_BATCH datagrams (waits up to timeoutMs); datagram i is at i * slotSize. */
  receive(timeoutMs: number): number {
    return check(
      this.#lib.mcr_udp_recv_batch(this.fd, this.buffer, this.slotSize, UDP_BATCH, this.lengths, timeoutMs),
      "mcr_udp_recv_batch",
      "Cannot receive",
    );
  }

  /** The socket's cumulative kernel drop counter (SO_RXQ_OVFL). */
  kernelDrops(): number {
    return this.lengths[UDP_BATCH] >>> 0;
  }

  /** TTL of the last datagram received. */
  lastTtl(): number {
    return this.lengths[UDP_BATCH + 1];
  }

  close(): void {
    this.#lib.mcr_udp_close(this.fd);
  }
}
