/** Batched UDP sockets (IPv4 and IPv6, multicast or unicast) for `mcr gen` and `mcr sink` (c/udp.c). */
import { check } from "./errno.ts";
import { loadLibrary } from "./library.ts";
import { socketAddress } from "./routed.ts";
import type { McrSymbols } from "./symbols.ts";

/** Most datagrams per batch call (MCR_UDP_BATCH). */
export const UDP_BATCH = 64;

/** An address as the native calls take it: family and bytes in network order. */
export interface UdpAddress {
  family: 4 | 6;
  bytes: Uint8Array;
}

export class UdpSender {
  readonly #lib: McrSymbols;
  private constructor(readonly fd: number, readonly family: 4 | 6, lib: McrSymbols) {
    this.#lib = lib;
  }

  /**
   * A sender of `family`: source address `source` when given (bound), multicast
   * out of ifindex when > 0, TTL / hop limit `ttl`. `label` names it in errors.
   */
  static open(
    family: 4 | 6,
    source: UdpAddress | null,
    ifindex: number,
    ttl: number,
    label: string,
    loop = false,
  ): UdpSender {
    const lib = loadLibrary();
    const fd = check(
      lib.mcr_udp_sender_open(
        family,
        source?.bytes ?? new Uint8Array(16),
        source ? 1 : 0,
        ifindex,
        ttl,
        loop ? 1 : 0,
      ),
      "mcr_udp_sender_open",
      `Cannot open a UDP sender ${label}`,
    );
    return new UdpSender(fd, family, lib);
  }

  /** The destination of sendBatch, built once. */
  destination(to: UdpAddress, port: number): Uint8Array {
    return socketAddress(to.family, to.bytes, port);
  }

  /** Sends `count` copies of template to `name` with sequence numbers seq, seq+1, ... (seq < 2^53). */
  sendBatch(name: Uint8Array, template: Uint8Array, count: number, seq: number): number {
    const hi = Math.floor(seq / 4294967296);
    const lo = seq >>> 0;
    return this.#lib.mcr_udp_send_batch(
      this.fd,
      name,
      name.length,
      template,
      template.length,
      count,
      hi,
      lo,
    );
  }

  /**
   * Sends `count` (<= UDP_BATCH) datagrams of different contents to `name` with
   * one sendmmsg(): datagram i is lengths[i] bytes of `payloads`, the datagrams
   * back to back from its start. Returns how many were sent, or -errno.
   * Throws RangeError when the lengths do not fit the buffer (the native call
   * trusts them).
   */
  sendPayloads(name: Uint8Array, payloads: Uint8Array, lengths: Int32Array, count: number): number {
    if (!(count >= 1 && count <= UDP_BATCH && count <= lengths.length)) {
      throw new RangeError(
        `sendPayloads: count ${count} not in 1..${Math.min(UDP_BATCH, lengths.length)}`,
      );
    }
    let total = 0;
    for (let i = 0; i < count; i++) {
      if (lengths[i] < 0) throw new RangeError(`sendPayloads: length ${i} is negative`);
      total += lengths[i];
    }
    if (total > payloads.length) {
      throw new RangeError(
        `sendPayloads: ${total} bytes of datagrams, buffer holds ${payloads.length}`,
      );
    }
    return this.#lib.mcr_udp_send_payloads(this.fd, name, name.length, payloads, lengths, count);
  }

  close(): void {
    this.#lib.mcr_socket_close(this.fd);
  }
}

export class UdpReceiver {
  readonly #lib: McrSymbols;
  /** out[i] = length of datagram i; out[UDP_BATCH] = kernel drops; out[UDP_BATCH+1] = last TTL. */
  readonly lengths = new Int32Array(UDP_BATCH + 2);
  /** times[2i], times[2i+1]: the kernel's receive time of datagram i (seconds, nanoseconds). */
  readonly times = new Int32Array(2 * UDP_BATCH);
  readonly buffer: Uint8Array;
  private constructor(readonly fd: number, readonly slotSize: number, lib: McrSymbols) {
    this.#lib = lib;
    this.buffer = new Uint8Array(slotSize * UDP_BATCH);
  }

  /** Receives on address:port (a multicast address is joined on ifindex, 0: any); `label` names it in errors. */
  static open(
    address: UdpAddress,
    port: number,
    ifindex: number,
    label: string,
    slotSize = 2048,
  ): UdpReceiver {
    const lib = loadLibrary();
    const fd = check(
      lib.mcr_udp_receiver_open(address.family, address.bytes, port, ifindex),
      "mcr_udp_receiver_open",
      `Cannot receive on ${label}`,
    );
    return new UdpReceiver(fd, slotSize, lib);
  }

  /** Receives up to UDP_BATCH datagrams (waits up to timeoutMs); datagram i is at i * slotSize. */
  receive(timeoutMs: number): number {
    return check(
      this.#lib.mcr_udp_recv_batch(
        this.fd,
        this.buffer,
        this.slotSize,
        UDP_BATCH,
        this.lengths,
        this.times,
        timeoutMs,
      ),
      "mcr_udp_recv_batch",
      "Cannot receive",
    );
  }

  /** The socket's cumulative kernel drop counter (SO_RXQ_OVFL). */
  kernelDrops(): number {
    return this.lengths[UDP_BATCH] >>> 0;
  }

  /** TTL / hop limit of the last datagram received. */
  lastTtl(): number {
    return this.lengths[UDP_BATCH + 1];
  }

  close(): void {
    this.#lib.mcr_socket_close(this.fd);
  }
}
