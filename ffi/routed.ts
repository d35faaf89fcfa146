/**
 * Routed egress and unicast inputs (c/routed.c): a kernel UDP socket per
 * routed output, its batched send, and the absorbing socket that keeps the
 * host quiet about a unicast input's port. Addresses cross as (family,
 * bytes in network order).
 */
import type { Arena } from "./arena.ts";
import { check } from "./errno.ts";
import { loadLibrary } from "./library.ts";

/** Most datagrams per routed send (MCR_ROUTED_BATCH). */
export const ROUTED_BATCH = 64;

/** Builds the sockaddr for (family, address bytes, port) once. */
export function socketAddress(family: 4 | 6, address: Uint8Array, port: number): Uint8Array {
  const out = new Uint8Array(28);
  const n = check(
    loadLibrary().mcr_sockaddr_build(family, address, port, out),
    "mcr_sockaddr_build",
    "Bad address",
  );
  return out.slice(0, n);
}

export interface RoutedSocketOptions {
  family: 4 | 6;
  destination: Uint8Array;
  port: number;
  /** Bound source address, or null (the kernel picks it). */
  source: Uint8Array | null;
  /** Egress interface index (0: the routing table decides). */
  ifindex: number;
  hops: number;
  /** TOS / traffic class byte, or -1 to leave the kernel's. */
  tclass: number;
  /** For messages. */
  label: string;
}

/** A routed output's socket, registered in its worker's arena (so a fence reaches it). */
export class RoutedSocket {
  #closed = false;
  private constructor(readonly fd: number, readonly name: Uint8Array, readonly arena: Arena) {}

  static open(arena: Arena, o: RoutedSocketOptions): RoutedSocket {
    const lib = loadLibrary();
    const src = o.source ?? new Uint8Array(16);
    const fd = check(
      lib.mcr_routed_open(
        o.family,
        o.destination,
        src,
        o.source ? 1 : 0,
        o.ifindex,
        o.hops,
        o.tclass,
      ),
      "mcr_routed_open",
      `Cannot open the routed output socket for ${o.label}`,
    );
    try {
      arena.adopt(fd);
    } catch (err) {
      lib.mcr_socket_close(fd);
      throw err;
    }
    return new RoutedSocket(fd, socketAddress(o.family, o.destination, o.port), arena);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.arena.release(this.fd);
  }
}

/** What forward_loop.ts calls to send a routed batch (structurally its DatagramSender). */
export class RoutedSender {
  readonly #lib = loadLibrary();
  constructor(readonly arena: Arena) {}
  send(
    port: {
      fd: number;
      name: Uint8Array;
      dataOffset: number;
      slotSize: number;
      lengths: Int32Array;
      count: number;
    },
    result: Int32Array,
  ): number {
    return this.#lib.mcr_routed_send(
      port.fd,
      port.name,
      port.name.length,
      this.arena.handle,
      port.dataOffset,
      port.slotSize,
      port.lengths,
      port.count,
      result,
    );
  }
}

/** Holds a unicast input's UDP port with a socket that drops everything (no ICMP port unreachable). */
export class PortAbsorber {
  #closed = false;
  private constructor(readonly fd: number) {}

  static open(
    family: 4 | 6,
    address: Uint8Array,
    port: number,
    ifindex: number,
    label: string,
  ): PortAbsorber {
    const fd = check(
      loadLibrary().mcr_udp_absorb_open(family, address, port, ifindex),
      "mcr_udp_absorb_open",
      `Cannot hold unicast input port ${label}`,
    );
    return new PortAbsorber(fd);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    loadLibrary().mcr_socket_close(this.fd);
  }
}
