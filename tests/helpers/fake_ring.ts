/**
 * A worker's arena in an ordinary ArrayBuffer, laid out the way the kernel
 * lays out AF_PACKET rings, so the forwarding loop runs without root,
 * sockets or a kernel:
 *
 *   [guard][RX ring 0: TPACKET_V3 blocks][guard]...[TX ring 0: TPACKET_V2 frames][guard]...
 *
 * The guard ranges between rings are filled with GUARD_BYTE; checkGuards()
 * reports any byte a test run changed there (an out-of-bounds write).
 *
 * RX blocks are filled with the kernel's own arithmetic (net/packet/af_packet.c):
 *  - struct tpacket_block_desc (48 bytes): version 0, offset_to_priv 4,
 *    block_status 8, num_pkts 12, offset_to_first_pkt 16, blk_len 20,
 *    seq_num 24 (u64); the first packet follows at 48 (no private area);
 *  - per packet, struct tpacket3_hdr: tp_next_offset 0, tp_sec 4, tp_nsec 8,
 *    tp_snaplen 12, tp_len 16, tp_status 20, tp_mac 24 (u16), tp_net 26 (u16),
 *    hv1.tp_vlan_tci 32; the network header is 16-byte aligned:
 *    tp_net = TPACKET_ALIGN(TPACKET3_HDRLEN + max(16, maclen)), tp_mac = tp_net - maclen,
 *    with TPACKET3_HDRLEN = 48 + sizeof(sockaddr_ll) = 68 and TPACKET_ALIGN 16;
 *  - tp_next_offset = ALIGN(tp_mac + tp_snaplen, 8) (V3_ALIGNMENT), 0 for the
 *    block's last packet.
 * TX frames (TPACKET_V2): tp_status 0, tp_len 4, data at 32.
 */
import {
  BLK_FIRST_PKT,
  BLK_NUM_PKTS,
  BLK_STATUS,
  TP2_DATA,
  TP2_LEN,
  TP2_STATUS,
  TP3_LEN,
  TP3_MAC,
  TP3_NEXT_OFFSET,
  TP3_SNAPLEN,
  TP3_STATUS,
  TP_STATUS_AVAILABLE,
  TP_STATUS_SEND_REQUEST,
  TP_STATUS_USER,
} from "../../ffi/layout.ts";
import {
  COMMAND_RUN,
  COMMAND_STOP,
  CONTROL_COMMAND,
  CONTROL_WORDS,
} from "../../src/dataplane/channel.ts";
import { type Clock, type Kicker, LoopState } from "../../src/dataplane/loop_state.ts";
import type { InputPort, TxPort } from "../../src/dataplane/rule_table.ts";
import { buildTables, type RxRingRef, type TxRingRef } from "../../src/dataplane/tables.ts";
import {
  DROP_REASONS,
  DROP_SLOT_BASE,
  OUTPUT_COUNTERS,
  OUTPUT_SLOTS,
  RULE_COUNTERS,
  RULE_SLOTS,
  WORKER_SLOTS,
} from "../../src/stats/registry.ts";
import { namedWorkerCounters } from "../../src/stats/aggregate.ts";
import { ConfigSchema } from "../../src/config/schema.ts";
import {
  activeRules,
  buildPlan,
  type InterfaceFacts,
  type RuleSlots,
  type WorkerPlan,
} from "../../src/supervisor/plan.ts";

/** What guard ranges are filled with. */
export const GUARD_BYTE = 0xa5;
/** Four guard bytes read as one 32-bit word. */
const GUARD_WORD = 0xa5a5a5a5;
/** Bytes of guard before, between and after rings. */
export const GUARD_LEN = 4096;

/** sizeof(struct tpacket_block_desc): the first packet starts here (BLK_PLUS_PRIV(0)). */
export const BLOCK_DESC_SIZE = 48;
/** TPACKET3_HDRLEN: TPACKET_ALIGN(sizeof(struct tpacket3_hdr)) + sizeof(struct sockaddr_ll). */
export const TPACKET3_HDRLEN = 48 + 20;
/** TP_STATUS_BLK_TMO: the block was retired by its timeout, not because it was full. */
export const TP_STATUS_BLK_TMO = 1 << 5;
const TP3_NET = 26; // u16 tp_net: from the header to the network header
const BLK_LEN = 20; // u32 blk_len: bytes used in the block
const BLK_SEQ = 24; // u64 seq_num

function align(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

/** Bytes before the network header in a frame: 14 plus 4 per in-band 802.1Q/802.1ad tag. */
function macLength(frame: Uint8Array): number {
  let p = 12;
  for (; p + 2 <= frame.length; p += 4) {
    const type = (frame[p] << 8) | frame[p + 1];
    if (type !== 0x8100 && type !== 0x88a8) break;
  }
  return Math.min(p + 2, frame.length);
}

/** One packet to put into an RX block. */
export interface RxPacket {
  frame: Uint8Array;
  /** Extra tp_status flags (TP_STATUS_CSUMNOTREADY, TP_STATUS_VLAN_VALID ...); TP_STATUS_USER is always set. */
  status?: number;
  /** The VLAN tag the kernel took out of the frame (tp_vlan_tci; the caller sets TP_STATUS_VLAN_VALID). */
  vlanTci?: number;
}

/** A TPACKET_V3 RX ring inside a FakeArena. */
let nextFakeRingId = 1;

export class FakeRxRing implements RxRingRef {
  #sequence = 0;
  readonly id = nextFakeRingId++;
  readonly frames: boolean;
  readonly frameSize: number;
  readonly frameCount: number;
  constructor(
    readonly arena: FakeArena,
    readonly ifindex: number,
    readonly fd: number,
    readonly offset: number,
    readonly blockSize: number,
    readonly blockCount: number,
    frameSize?: number,
    /** PACKET_VNET_HDR: the test writes a virtio_net_hdr before each frame's MAC header (fillFrames leaves 80 - 32 bytes of room). */
    readonly vnet = false,
  ) {
    this.frames = frameSize !== undefined;
    this.frameSize = frameSize ?? blockSize;
    this.frameCount = (blockSize / this.frameSize) * blockCount;
  }

  /**
   * Frames mode: writes packets into consecutive frames from `index` on (a
   * tpacket2_hdr each: status USER|flags, tp_len, tp_snaplen, tp_mac = 80),
   * wrapping at the ring's end. Returns the frame index after the last.
   */
  fillFrames(index: number, packets: readonly (RxPacket | Uint8Array)[], arrivedUs = 0): number {
    const view = this.arena.view;
    const bytes = this.arena.bytes;
    let at = index;
    for (const p of packets) {
      const frame = p instanceof Uint8Array ? p : p.frame;
      const flags = p instanceof Uint8Array ? 0 : (p.status ?? 0);
      const f = this.offset + at * this.frameSize;
      if (80 + frame.length > this.frameSize) {
        throw new Error(`fillFrames(): a ${frame.length}-byte packet does not fit a frame`);
      }
      bytes.fill(0, f, f + this.frameSize);
      view.setUint32(f + 4, frame.length, true); // tp_len
      view.setUint32(f + 8, frame.length, true); // tp_snaplen
      view.setUint16(f + 12, 80, true); // tp_mac
      view.setUint32(f + 16, Math.floor(arrivedUs / 1e6), true); // tp_sec
      view.setUint32(f + 20, Math.round((arrivedUs % 1e6) * 1000), true); // tp_nsec
      if (!(p instanceof Uint8Array)) view.setUint16(f + 24, p.vlanTci ?? 0, true); // tp_vlan_tci
      bytes.set(frame, f + 80);
      view.setUint32(f, TP_STATUS_USER | flags, true); // tp_status last, as the kernel publishes it
      at = at + 1 === this.frameCount ? 0 : at + 1;
    }
    return at;
  }

  /** Frames mode: the status word of frame `index`. */
  frameStatus(index: number): number {
    return this.arena.view.getUint32(this.offset + index * this.frameSize, true);
  }

  /** Byte offset of block `index` in the arena. */
  blockOffset(index: number): number {
    return this.offset + index * this.blockSize;
  }

  /** The block's status word (0: the kernel's, TP_STATUS_USER: user space's). */
  blockStatus(index: number): number {
    return this.arena.view.getUint32(this.blockOffset(index) + BLK_STATUS, true);
  }

  /**
   * Writes packets into block `index` as the kernel would and hands the block
   * to user space (block status TP_STATUS_USER | blockFlags). Returns the
   * offsets of the packets' tpacket3_hdr. Throws when they do not fit.
   */
  fillBlock(index: number, packets: readonly (RxPacket | Uint8Array)[], blockFlags = 0): number[] {
    const n = this.fit(index, packets, 0, blockFlags);
    if (n !== packets.length) {
      throw new Error(
        `fillBlock(): ${packets.length} packets do not fit a ${this.blockSize}-byte block (${n} do)`,
      );
    }
    return this.headers(index);
  }

  /**
   * Writes as many of packets[from...] as fit into block `index`, hands the
   * block to user space, and returns how many it took.
   */
  fit(
    index: number,
    packets: readonly (RxPacket | Uint8Array)[],
    from = 0,
    blockFlags = 0,
  ): number {
    const view = this.arena.view;
    const bytes = this.arena.bytes;
    const blk = this.blockOffset(index);
    bytes.fill(0, blk, blk + this.blockSize);
    let used = BLOCK_DESC_SIZE;
    let prev = -1;
    let count = 0;
    for (let i = from; i < packets.length; i++) {
      const p = packets[i];
      const frame = p instanceof Uint8Array ? p : p.frame;
      const flags = p instanceof Uint8Array ? 0 : (p.status ?? 0);
      const maclen = macLength(frame);
      const net = align(TPACKET3_HDRLEN + Math.max(16, maclen), 16);
      const mac = net - maclen;
      const size = align(mac + frame.length, 8);
      if (used + size > this.blockSize) break;
      const pkt = blk + used;
      view.setUint32(pkt + TP3_SNAPLEN, frame.length, true);
      view.setUint32(pkt + TP3_LEN, frame.length, true);
      view.setUint32(pkt + TP3_STATUS, TP_STATUS_USER | flags, true);
      view.setUint16(pkt + TP3_MAC, mac, true);
      view.setUint16(pkt + TP3_NET, net, true);
      if (!(p instanceof Uint8Array)) view.setUint32(pkt + 32, p.vlanTci ?? 0, true); // hv1.tp_vlan_tci
      bytes.set(frame, pkt + mac);
      if (prev >= 0) view.setUint32(prev + TP3_NEXT_OFFSET, pkt - prev, true);
      prev = pkt;
      used += size;
      count++;
    }
    view.setUint32(blk + 0, 3, true); // version: TPACKET_V3's block descriptor
    view.setUint32(blk + BLK_NUM_PKTS, count, true);
    view.setUint32(blk + BLK_FIRST_PKT, BLOCK_DESC_SIZE, true);
    view.setUint32(blk + BLK_LEN, used, true);
    view.setUint32(blk + BLK_SEQ, ++this.#sequence, true);
    view.setUint32(blk + BLK_STATUS, TP_STATUS_USER | blockFlags, true);
    return count;
  }

  /** Marks block `index` user space's again without rewriting it (benchmarks refill this way). */
  giveToUser(index: number): void {
    this.arena.view.setUint32(this.blockOffset(index) + BLK_STATUS, TP_STATUS_USER, true);
  }

  /** Offsets of the tpacket3_hdr of every packet in block `index`, following tp_next_offset. */
  headers(index: number): number[] {
    const view = this.arena.view;
    const blk = this.blockOffset(index);
    const out: number[] = [];
    let pkt = blk + view.getUint32(blk + BLK_FIRST_PKT, true);
    const n = view.getUint32(blk + BLK_NUM_PKTS, true);
    for (let i = 0; i < n; i++) {
      out.push(pkt);
      pkt += view.getUint32(pkt + TP3_NEXT_OFFSET, true);
    }
    return out;
  }
}

/** A frame read back from a TX ring. */
export interface TxFrame {
  index: number;
  status: number;
  bytes: Uint8Array;
}

/** A TPACKET_V2 TX ring inside a FakeArena, with an emulated kernel side. */
export class FakeTxRing implements TxRingRef {
  /** The emulated kernel's next frame to send (tx_ring.head). */
  kernelHead = 0;
  readonly id = nextFakeRingId++;
  constructor(
    readonly arena: FakeArena,
    readonly ifindex: number,
    readonly fd: number,
    readonly offset: number,
    readonly frameSize: number,
    readonly frameCount: number,
  ) {}

  /** Byte offset of frame `index` in the arena. */
  frameOffset(index: number): number {
    return this.offset + index * this.frameSize;
  }

  status(index: number): number {
    return this.arena.view.getUint32(this.frameOffset(index) + TP2_STATUS, true);
  }

  setStatus(index: number, status: number): void {
    this.arena.view.setUint32(this.frameOffset(index) + TP2_STATUS, status, true);
  }

  /** tp_len of frame `index`. */
  length(index: number): number {
    return this.arena.view.getUint32(this.frameOffset(index) + TP2_LEN, true);
  }

  /** A copy of frame `index`'s data (tp_len bytes from TP2_DATA). */
  data(index: number): Uint8Array {
    const f = this.frameOffset(index) + TP2_DATA;
    return this.arena.bytes.slice(f, f + this.length(index));
  }

  /** Every frame whose status is `status` (default SEND_REQUEST), in ring order from frame 0. */
  frames(status = TP_STATUS_SEND_REQUEST): TxFrame[] {
    const out: TxFrame[] = [];
    for (let i = 0; i < this.frameCount; i++) {
      if (this.status(i) === status) out.push({ index: i, status, bytes: this.data(i) });
    }
    return out;
  }

  /**
   * What the kernel does on a kick (tpacket_snd): from its head, sends every
   * consecutive SEND_REQUEST frame and makes it available again; stops at
   * the first frame that is not SEND_REQUEST. Returns the frames sent
   * (copies when `record`, otherwise an empty list) and advances the head.
   */
  send(record: boolean, sent: Uint8Array[] = []): number {
    const view = this.arena.view;
    let n = 0;
    for (;;) {
      const f = this.offset + this.kernelHead * this.frameSize;
      if (view.getUint32(f + TP2_STATUS, true) !== TP_STATUS_SEND_REQUEST) break;
      if (record) sent.push(this.data(this.kernelHead));
      view.setUint32(f + TP2_STATUS, TP_STATUS_AVAILABLE, true);
      this.kernelHead = this.kernelHead + 1 === this.frameCount ? 0 : this.kernelHead + 1;
      if (++n === this.frameCount) break;
    }
    return n;
  }

  /**
   * Fills every frame with GUARD_BYTE after its status and length words
   * (status 0: available), and moves the emulated kernel's head to 0.
   * checkFrame() then reports writes that went past a frame's data.
   */
  poison(): void {
    for (let i = 0; i < this.frameCount; i++) this.restoreFrame(i);
    this.kernelHead = 0;
  }

  /** Makes frame `index` available again and refills it with GUARD_BYTE (after poison()). */
  restoreFrame(index: number): void {
    const f = this.frameOffset(index);
    this.arena.bytes.fill(0, f, f + 8);
    this.arena.bytes.fill(GUARD_BYTE, f + 8, f + this.frameSize);
  }

  /**
   * After poison(): "" when frame `index` holds GUARD_BYTE everywhere except
   * its status/length words and, if it is queued (SEND_REQUEST), its
   * tp_len bytes of data; otherwise where the first stray write is.
   */
  checkFrame(index: number): string {
    const bytes = this.arena.bytes;
    const words = this.arena.words;
    const f = this.frameOffset(index);
    const end = f + this.frameSize;
    const queued = this.status(index) === TP_STATUS_SEND_REQUEST;
    const len = queued ? this.length(index) : 0;
    if (TP2_DATA + len > this.frameSize) {
      return `frame ${index}: tp_len ${len} overruns the ${this.frameSize}-byte frame`;
    }
    for (let b = f + 8; b < f + TP2_DATA; b++) {
      if (bytes[b] !== GUARD_BYTE) return `frame ${index}: header byte ${b - f} written`;
    }
    let b = f + TP2_DATA + len;
    for (; b < end && (b & 3) !== 0; b++) {
      if (bytes[b] !== GUARD_BYTE) {
        return `frame ${index}: byte ${b - f} written past tp_len ${len}`;
      }
    }
    for (let w = b >> 2; w < end >> 2; w++) {
      if (words[w] !== GUARD_WORD) {
        return `frame ${index}: bytes ${(w << 2) - f}.. written past tp_len ${len}`;
      }
    }
    return "";
  }

  /** checkFrame() for every frame of the ring; [] when all are clean. */
  checkFrames(): string[] {
    const problems: string[] = [];
    for (let i = 0; i < this.frameCount; i++) {
      const p = this.checkFrame(i);
      if (p !== "") problems.push(`ring fd ${this.fd} ${p}`);
    }
    return problems;
  }
}

/** Geometry of one fake RX ring. */
export interface FakeRxSpec {
  ifindex: number;
  fd?: number;
  /** Block size in bytes (default 64 KiB; the kernel wants a multiple of the page size). */
  blockSize?: number;
  blockCount?: number;
  /** A TPACKET_V2 frames ring with frames of this size (tiling the blocks), instead of V3 blocks. */
  frameSize?: number;
  vnet?: boolean;
}

/** Geometry of one fake TX ring. */
export interface FakeTxSpec {
  ifindex: number;
  fd?: number;
  frameSize?: number;
  frameCount?: number;
}

/** The arena: one buffer, one Uint8Array and one DataView over it, as a worker has. */
export class FakeArena {
  readonly buffer: ArrayBuffer;
  readonly bytes: Uint8Array;
  readonly view: DataView;
  /** The buffer as 32-bit words, for fast guard checks (rings and guards are 4-byte aligned). */
  readonly words: Uint32Array;
  readonly rx: FakeRxRing[] = [];
  readonly tx: FakeTxRing[] = [];
  /** [offset, length] of every guard range. */
  readonly guards: [number, number][] = [];

  constructor(rx: readonly FakeRxSpec[], tx: readonly FakeTxSpec[]) {
    let size = GUARD_LEN;
    const rxAt = rx.map((r) => {
      const at = size;
      size += (r.blockSize ?? 65536) * (r.blockCount ?? 4) + GUARD_LEN;
      return at;
    });
    const txAt = tx.map((t) => {
      const at = size;
      size += (t.frameSize ?? 2048) * (t.frameCount ?? 64) + GUARD_LEN;
      return at;
    });
    this.buffer = new ArrayBuffer(size);
    this.bytes = new Uint8Array(this.buffer);
    this.view = new DataView(this.buffer);
    this.words = new Uint32Array(this.buffer);
    this.bytes.fill(GUARD_BYTE);
    this.guards.push([0, GUARD_LEN]);
    rx.forEach((r, i) => {
      const ring = new FakeRxRing(
        this,
        r.ifindex,
        r.fd ?? 10 + i,
        rxAt[i],
        r.blockSize ?? 65536,
        r.blockCount ?? 4,
        r.frameSize,
        r.vnet ?? false,
      );
      this.bytes.fill(0, ring.offset, ring.offset + ring.blockSize * ring.blockCount);
      this.guards.push([ring.offset + ring.blockSize * ring.blockCount, GUARD_LEN]);
      this.rx.push(ring);
    });
    tx.forEach((t, i) => {
      const ring = new FakeTxRing(
        this,
        t.ifindex,
        t.fd ?? 100 + i,
        txAt[i],
        t.frameSize ?? 2048,
        t.frameCount ?? 64,
      );
      this.bytes.fill(0, ring.offset, ring.offset + ring.frameSize * ring.frameCount);
      this.guards.push([ring.offset + ring.frameSize * ring.frameCount, GUARD_LEN]);
      this.tx.push(ring);
    });
  }

  /** RX rings by ifindex, as buildTables() takes them. */
  rxRefs(): Map<number, RxRingRef> {
    return new Map(this.rx.map((r) => [r.ifindex, r]));
  }

  /** TX rings by ifindex, as buildTables() takes them. */
  txRefs(): Map<number, TxRingRef> {
    return new Map(this.tx.map((t) => [t.ifindex, t]));
  }

  txByFd(fd: number): FakeTxRing | undefined {
    for (let i = 0; i < this.tx.length; i++) if (this.tx[i].fd === fd) return this.tx[i];
    return undefined;
  }

  /** Guard bytes changed since construction, as "offset N" strings; [] when none. */
  checkGuards(): string[] {
    const problems: string[] = [];
    for (const [off, len] of this.guards) {
      for (let w = off >> 2; w < (off + len) >> 2; w++) {
        if (this.words[w] !== GUARD_WORD) {
          problems.push(`guard bytes at offset ${w << 2} were written`);
          break;
        }
      }
    }
    return problems;
  }
}

/** Options of FakeKicker. */
export interface FakeKickerOptions {
  /** Emulate the kernel: at submit, send every queued ring's SEND_REQUEST frames (they become available). */
  send?: boolean;
  /** With `send`, keep a copy of every frame sent (in `sent`). Off for benchmarks. */
  record?: boolean;
  /** When set, wait() stores COMMAND_STOP here, so forwardLoop() returns once it runs out of blocks. */
  stopOnWait?: Int32Array;
  /** Keep no list of submits (only counts): for benchmarks, so the fake allocates nothing per block. */
  quiet?: boolean;
  /** Called during each nap (after its kicks went out): packets that arrive meanwhile. */
  onNap?: (nap: number) => void;
  /**
   * Called during each wait (after its kicks went out): packets that arrive meanwhile.
   * Returning true keeps the loop running, stopOnWait notwithstanding.
   */
  onWait?: (wait: number) => boolean;
  /** Called at each kick queued (after it is queued): packets that arrive meanwhile. */
  onQueueKick?: (kicks: number) => void;
}

/** A Kicker that records what the loop asked for. */
export class FakeKicker implements Kicker {
  /** For each submit, the fds that were queued before it (unless `quiet`). */
  submitted: number[][] = [];
  /** Frames sent by the emulated kernel (with `record`). */
  sent: Uint8Array[] = [];
  /** Frames the emulated kernel sent, recorded or not. */
  sentCount = 0;
  /** Kicks and submits so far. */
  kickCount = 0;
  submitCount = 0;
  waits = 0;
  /** Kicks that went out inside a wait() rather than a submit(). */
  kicksWithWait = 0;
  // Queued fds in a reused array: the fake allocates nothing per block.
  #pending: number[] = [];
  #pendingCount = 0;

  constructor(readonly arena: FakeArena, readonly options: FakeKickerOptions = {}) {}

  /** fds queued since the last submit. */
  get queued(): number[] {
    return this.#pending.slice(0, this.#pendingCount);
  }

  wait(_timeoutMs: number): number {
    this.waits++;
    // Like the native waiter, kicks still queued go out in the same call, before it sleeps.
    if (this.#pendingCount > 0) {
      this.kicksWithWait += this.#pendingCount;
      this.#deliver();
    }
    if (this.options.onWait?.(this.waits)) return 0;
    const control = this.options.stopOnWait;
    if (control) Atomics.store(control, CONTROL_COMMAND, COMMAND_STOP);
    return 0;
  }

  /** The length of every nap asked for (µs); a nap sends the queued kicks first, like the native waiter. */
  naps: number[] = [];
  /** Kicks that went out inside a nap. */
  kicksWithNap = 0;
  nap(us: number): number {
    this.naps.push(us);
    if (this.#pendingCount > 0) {
      this.kicksWithNap += this.#pendingCount;
      this.#deliver();
    }
    this.options.onNap?.(this.naps.length);
    return 0;
  }

  queueKick(fd: number): number {
    if (this.#pendingCount < this.#pending.length) this.#pending[this.#pendingCount] = fd;
    else this.#pending.push(fd);
    this.#pendingCount++;
    this.kickCount++;
    this.options.onQueueKick?.(this.kickCount);
    return 0;
  }

  submit(): number {
    this.submitCount++;
    return this.#deliver();
  }

  #deliver(): number {
    const n = this.#pendingCount;
    if (this.options.send) {
      for (let i = 0; i < n; i++) {
        const ring = this.arena.txByFd(this.#pending[i]);
        if (ring) this.sentCount += ring.send(this.options.record ?? false, this.sent);
      }
    }
    if (!this.options.quiet) this.submitted.push(this.#pending.slice(0, n));
    this.#pendingCount = 0;
    return n;
  }
}

/** A LoopState over a fake arena with fresh counters, ready for processBlock()/forwardLoop(). */
export function fakeLoopState(
  arena: FakeArena,
  tables: { inputs: InputPort[]; txPorts: TxPort[] },
  kicker: Kicker,
  opts: {
    ruleSlots?: number;
    outputSlots?: number;
    periodic?: () => void;
    /** Views to hand the loop instead of the arena's own (e.g. ones that check every access). */
    bytes?: Uint8Array;
    view?: DataView;
    /** The residence-time clock (µs). */
    clock?: Clock;
    /** Adaptive wake-ups (LoopOptions.napUs). */
    napUs?: number;
  } = {},
): LoopState {
  const control = new Int32Array(new SharedArrayBuffer(CONTROL_WORDS * 4));
  Atomics.store(control, CONTROL_COMMAND, COMMAND_RUN);
  return new LoopState({
    bytes: opts.bytes ?? arena.bytes,
    view: opts.view ?? arena.view,
    inputs: tables.inputs,
    txPorts: tables.txPorts,
    workerCounters: new Float64Array(new SharedArrayBuffer(WORKER_SLOTS * 8)),
    ruleCounters: new Float64Array(new SharedArrayBuffer((opts.ruleSlots ?? 64) * RULE_SLOTS * 8)),
    outputCounters: new Float64Array(
      new SharedArrayBuffer((opts.outputSlots ?? 256) * OUTPUT_SLOTS * 8),
    ),
    control,
    kicker,
    periodic: opts.periodic ?? (() => {}),
    clock: opts.clock,
    napUs: opts.napUs,
  });
}

/** Everything a loop test needs: arena, tables built by buildTables(), kicker and state. */
export interface FakeWorker {
  arena: FakeArena;
  kicker: FakeKicker;
  state: LoopState;
  inputs: InputPort[];
  txPorts: TxPort[];
}

/**
 * Builds a fake worker for `plan`: one fake RX ring per plan.rx entry and one
 * TX ring per plan.tx entry (frame size from the plan's geometry, frame and
 * block counts small unless given), tables through buildTables().
 */
export function fakeWorker(
  plan: WorkerPlan,
  opts: {
    blockSize?: number;
    blockCount?: number;
    txFrames?: number;
    frameSize?: number;
    vnet?: boolean;
    kicker?: FakeKickerOptions;
    /** Adaptive wake-ups (LoopOptions.napUs) and the loop's clock. */
    napUs?: number;
    clock?: Clock;
  } = {},
): FakeWorker {
  const arena = new FakeArena(
    plan.rx.map((r) => ({
      ifindex: r.ifindex,
      blockSize: opts.blockSize,
      blockCount: opts.blockCount,
      frameSize: opts.frameSize,
      vnet: opts.vnet,
    })),
    plan.tx.map((t) => ({
      ifindex: t.ifindex,
      frameSize: t.geometry.frameSize,
      frameCount: opts.txFrames,
    })),
  );
  const tables = buildTables(plan, arena.rxRefs(), arena.txRefs());
  const kicker = new FakeKicker(arena, opts.kicker);
  const state = fakeLoopState(arena, tables, kicker, { napUs: opts.napUs, clock: opts.clock });
  return { arena, kicker, state, inputs: tables.inputs, txPorts: tables.txPorts };
}

/** Worker counters by name (WORKER_COUNTERS, then drop_<reason>). */
export function workerCounters(state: LoopState): Record<string, number> {
  return namedWorkerCounters(state.workerCounters);
}

/** Sum of every drop-reason counter of the worker. */
export function totalDrops(state: LoopState): number {
  let sum = 0;
  for (let i = 0; i < DROP_REASONS.length; i++) sum += state.workerCounters[DROP_SLOT_BASE + i];
  return sum;
}

/** A rule's counters by name (RULE_COUNTERS). */
export function ruleCounters(state: LoopState, slot: number): Record<string, number> {
  const out: Record<string, number> = {};
  RULE_COUNTERS.forEach((c, i) => out[c.name] = state.ruleCounters[slot * RULE_SLOTS + i]);
  return out;
}

/** An output's counters by name (OUTPUT_COUNTERS). */
export function outputCounters(state: LoopState, slot: number): Record<string, number> {
  const out: Record<string, number> = {};
  OUTPUT_COUNTERS.forEach((c, i) => out[c.name] = state.outputCounters[slot * OUTPUT_SLOTS + i]);
  return out;
}

/** Interfaces the loop tests pretend exist (name, ifindex, MTU, IPv4, MAC). */
export const TEST_INTERFACES: readonly InterfaceFacts[] = [
  { name: "in0", ifindex: 2, mtu: 1500, ipv4: 0x0a000002, mac: [0x02, 0, 0, 0, 0, 0x02] }, // 10.0.0.2
  { name: "in1", ifindex: 6, mtu: 1500, ipv4: 0x0a000602, mac: [0x02, 0, 0, 0, 0, 0x06] }, // 10.0.6.2
  { name: "out1", ifindex: 3, mtu: 1500, ipv4: 0x0a000101, mac: [0x02, 0, 0, 0, 0x01, 0x01] }, // 10.0.1.1
  { name: "out2", ifindex: 4, mtu: 1500, ipv4: 0x0a000201, mac: [0x02, 0, 0, 0, 0x02, 0x01] }, // 10.0.2.1
  { name: "small", ifindex: 5, mtu: 576, ipv4: 0x0a000501, mac: [0x02, 0, 0, 0, 0x05, 0x01] }, // 10.0.5.1
];

/**
 * The WorkerPlan plan.ts makes for `config` (a plain object, validated by
 * ConfigSchema) over TEST_INTERFACES: rule i gets counter slot i, outputs
 * are numbered in order across rules, no fanout.
 */
export function planFor(
  config: unknown,
  interfaces: readonly InterfaceFacts[] = TEST_INTERFACES,
): WorkerPlan {
  const parsed = ConfigSchema.parse(config);
  const slots = new Map<string, RuleSlots>();
  let next = 0;
  activeRules(parsed).forEach((r, i) =>
    slots.set(r.name, { rule: i, outputs: r.outputs.map(() => next++) })
  );
  return buildPlan(parsed, new Map(interfaces.map((f) => [f.name, f])), slots, new Map(), 1);
}
