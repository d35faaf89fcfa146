/**
 * AF_PACKET rings mapped into a worker's Arena. Callers see offsets into
 * arena.bytes, never pointers.
 */
import type { Arena } from "./arena.ts";
import { check } from "./errno.ts";
import { loadLibrary } from "./library.ts";

const MCR_RX_IGNORE_OUTGOING = 0x1;
const MCR_RX_FANOUT_HASH = 0x2;
const MCR_RX_FRAMES = 0x4;
const MCR_RX_VNET_HDR = 0x8;

export interface RxRingOptions {
  ifindex: number;
  ifname: string;
  blockSize: number;
  blockCount: number;
  frameSize: number;
  retireMs: number;
  /** PACKET_IGNORE_OUTGOING: never see frames this host sends. */
  ignoreOutgoing: boolean;
  /** PACKET_FANOUT group id shared by the workers reading this interface. */
  fanoutId?: number;
  /** TPACKET_V2: one frame of frameSize per packet (blockSize a multiple of it); else V3 blocks. */
  frames?: boolean;
  /** PACKET_VNET_HDR: a virtio_net_hdr (VNET_HDR_LEN bytes) before each packet's MAC header (GSO segment size). */
  vnetHdr?: boolean;
}

export interface RingStats {
  packets: number;
  drops: number;
  freezes: number;
}

/**
 * Reserves `byteLength` bytes of the arena and opens a ring mapped there
 * with `open(address)`; on failure the range goes back to the arena and the
 * native error is thrown as a NativeError naming the interface.
 */
function openInArena(
  arena: Arena,
  byteLength: number,
  op: string,
  what: string,
  iface: { ifname: string; ifindex: number },
  open: (offset: number) => number,
): { fd: number; offset: number } {
  const offset = arena.allocate(byteLength);
  try {
    const fd = check(
      open(offset),
      op,
      `Cannot open packet ${what} ring on interface "${iface.ifname}"`,
      {
        ifname: iface.ifname,
        ifindex: iface.ifindex,
      },
    );
    return { fd, offset };
  } catch (err) {
    arena.free(offset, byteLength);
    throw err;
  }
}

let nextRingId = 1;

/**
 * A ring socket mapped into an arena. close() closes the socket and covers
 * the range with zero pages (a stale view reads zeros, never faults); the
 * range itself is returned to the arena by its owner.
 */
abstract class MappedRing {
  #closed = false;
  /** Unique for the process: fd numbers are reused, ring identities never are. */
  readonly id = nextRingId++;

  protected constructor(
    readonly fd: number,
    /** Byte offset of the ring inside arena.bytes. */
    readonly offset: number,
    readonly byteLength: number,
    readonly ifname: string,
    readonly arena: Arena,
  ) {}

  get closed(): boolean {
    return this.#closed;
  }

  /** Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.arena.release(this.fd);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** A receive ring: TPACKET_V3 blocks, or TPACKET_V2 frames (`frames`). */
export class RxRing extends MappedRing {
  readonly #statsOut = new Uint32Array(3);

  private constructor(
    fd: number,
    offset: number,
    readonly blockSize: number,
    readonly blockCount: number,
    byteLength: number,
    ifname: string,
    arena: Arena,
    readonly frames: boolean,
    readonly frameSize: number,
    readonly vnet: boolean,
  ) {
    super(fd, offset, byteLength, ifname, arena);
  }

  /** Frames in a frames-mode ring (frame i at offset + i * frameSize). */
  get frameCount(): number {
    return (this.blockSize / this.frameSize) * this.blockCount;
  }

  static open(arena: Arena, o: RxRingOptions): RxRing {
    const lib = loadLibrary();
    const byteLength = o.blockSize * o.blockCount;
    const flags = (o.ignoreOutgoing ? MCR_RX_IGNORE_OUTGOING : 0) |
      (o.fanoutId ? MCR_RX_FANOUT_HASH : 0) |
      (o.frames ? MCR_RX_FRAMES : 0) | (o.vnetHdr ? MCR_RX_VNET_HDR : 0);
    const { fd, offset } = openInArena(
      arena,
      byteLength,
      "mcr_rx_open",
      "RX",
      o,
      (offset) =>
        lib.mcr_rx_open(
          arena.handle,
          offset,
          o.ifindex,
          o.blockSize,
          o.blockCount,
          o.frameSize,
          o.retireMs,
          flags,
          o.fanoutId ?? 0,
        ),
    );
    return new RxRing(
      fd,
      offset,
      o.blockSize,
      o.blockCount,
      byteLength,
      o.ifname,
      arena,
      o.frames ?? false,
      o.frameSize,
      o.vnetHdr ?? false,
    );
  }

  /**
   * Lets only these (destination, port) entries into the ring (kernel classic
   * BPF); `dst` is the address as 32-bit words (IPv4: one, IPv6: four).
   */
  setFilter(
    entries: readonly { family: 4 | 6; dst: readonly number[]; port: number }[],
    passFragments: boolean,
  ): void {
    const flat = new Uint32Array(entries.length * 6);
    entries.forEach((e, i) => {
      flat[6 * i] = e.family;
      for (let k = 0; k < e.dst.length; k++) flat[6 * i + 1 + k] = e.dst[k] >>> 0;
      flat[6 * i + 5] = e.port;
    });
    check(
      loadLibrary().mcr_rx_set_filter(this.fd, flat, entries.length, passFragments ? 1 : 0),
      "mcr_rx_set_filter",
      `Cannot attach the packet filter on interface "${this.ifname}"`,
      { ifname: this.ifname },
    );
  }

  /** Kernel counters since the last call (PACKET_STATISTICS resets on read). */
  stats(): RingStats {
    if (this.closed) return { packets: 0, drops: 0, freezes: 0 };
    const rc = loadLibrary().mcr_ring_stats(this.fd, this.#statsOut);
    if (rc < 0) return { packets: 0, drops: 0, freezes: 0 };
    return { packets: this.#statsOut[0], drops: this.#statsOut[1], freezes: this.#statsOut[2] };
  }
}

export interface TxRingOptions {
  ifindex: number;
  ifname: string;
  frameSize: number;
  frameCount: number;
  qdiscBypass: boolean;
}

/** A TPACKET_V2 transmit ring. */
export class TxRing extends MappedRing {
  private constructor(
    fd: number,
    offset: number,
    readonly frameSize: number,
    readonly frameCount: number,
    byteLength: number,
    ifname: string,
    arena: Arena,
  ) {
    super(fd, offset, byteLength, ifname, arena);
  }

  static open(arena: Arena, o: TxRingOptions): TxRing {
    const lib = loadLibrary();
    const byteLength = o.frameSize * o.frameCount;
    const { fd, offset } = openInArena(
      arena,
      byteLength,
      "mcr_tx_open",
      "TX",
      o,
      (offset) =>
        lib.mcr_tx_open(
          arena.handle,
          offset,
          o.ifindex,
          o.frameSize,
          o.frameCount,
          o.qdiscBypass ? 1 : 0,
        ),
    );
    return new TxRing(fd, offset, o.frameSize, o.frameCount, byteLength, o.ifname, arena);
  }
}
