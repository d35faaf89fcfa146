/**
 * THE forwarding loop of a worker, readable top to bottom:
 *
 *   wait -> take every ready frame (frames mode) or a block (blocks mode) ->
 *   per packet (per datagram of a UDP GSO frame, gso.ts): parse -> match ->
 *   for each output claim a TX frame and rewrite into it (or, for a routed
 *   output, copy the datagram into its socket's batch) -> give the slot back
 *   -> flush (one io_uring_enter kicks every dirty TX ring; one sendmmsg per
 *   routed batch) -> publish counters -> check control -> repeat.
 *
 * Nothing here allocates per packet, throws, or sees a pointer: the rings are
 * one Uint8Array/DataView over the worker's arena, the rules are monomorphic
 * objects built at plan time, and counters are Float64 slots in
 * SharedArrayBuffers. The TypeScript target is x86-64: its stores are not
 * reordered, so writing tp_len before tp_status publishes a TX frame safely.
 */
import {
  BLK_FIRST_PKT,
  BLK_NUM_PKTS,
  BLK_STATUS,
  TP2_DATA,
  TP2_LEN,
  TP2_MAC,
  TP2_NSEC,
  TP2_SEC,
  TP2_SNAPLEN,
  TP2_STATUS,
  TP2_VLAN_TCI,
  TP3_MAC,
  TP3_NEXT_OFFSET,
  TP3_NSEC,
  TP3_SEC,
  TP3_SNAPLEN,
  TP3_STATUS,
  TP3_VLAN_TCI,
  TP_STATUS_AVAILABLE,
  TP_STATUS_CSUMNOTREADY,
  TP_STATUS_SEND_REQUEST,
  TP_STATUS_USER,
  TP_STATUS_VLAN_VALID,
  TP_STATUS_WRONG_FORMAT,
} from "../../ffi/layout.ts";
import {
  DROP_SLOT_BASE,
  OUTPUT_COUNTERS,
  OUTPUT_SLOTS,
  RESIDENCE_BUCKETS_US,
  RESIDENCE_COUNT_SLOT,
  RESIDENCE_SLOT_BASE,
  RESIDENCE_SUM_SLOT,
  RULE_SLOTS,
  W,
} from "../stats/registry.ts";
import { COMMAND_RETIRED, COMMAND_RUN, CONTROL_COMMAND } from "./channel.ts";
import { admit, CUT_BEFORE, CUT_HELD, CUT_NONE, CUT_RETIRED, finished } from "./succession.ts";
import {
  F_FAMILY,
  F_FRAG,
  F_GROUP,
  F_IP,
  F_L4_LEN,
  F_PORT,
  F_PROTO,
  F_SRC,
  F_UDP,
  F_UDP_LEN,
  F_VLAN,
  FRAME,
  parseFrame,
  R_BAD_HEADER,
  R_FRAGMENT,
  R_LOOP,
  R_NO_MATCH,
  R_NOT_UDP,
  R_RING_CORRUPT,
  R_TTL_EXPIRED,
} from "./parse.ts";
import { returned, signature } from "./loop_guard.ts";
import {
  GSO_MAX_SEGMENTS,
  type GsoFrame,
  gsoSegmentSize,
  layOutSegment,
  segmentCount,
  segmentFrameLength,
  VNET_HDR_LEN,
} from "./gso.ts";
import {
  finishPartialChecksum,
  outputFrameLength,
  rewriteInto,
  sourceDelta,
  sourceDelta6,
  VLAN_HLEN,
} from "./rewrite.ts";
import {
  EGRESS_ROUTED,
  type InputPort,
  matchFragment,
  matchRule,
  type Output,
  type RoutedPort,
  TTL_DECREMENT,
  type TxPort,
} from "./rule_table.ts";

/** What the loop needs from the native waiter (ffi/waiter.ts Waiter; a fake in tests). */
export interface Kicker {
  /** Blocks until an RX ring or the control eventfd is ready, or timeout. */
  wait(timeoutMs: number): number;
  /** Queues a kick of a TX ring (sent at the next submit). */
  queueKick(fd: number): number;
  /** One io_uring_enter for every queued kick. */
  submit(): number;
}

/**
 * The loop's only clock (residence times, heartbeats, turn lengths, the
 * loop guard): CLOCK_REALTIME in µs (ffi/process.ts RealtimeClock; a fake in
 * tests). It writes the time into into[0] rather than returning it: a double
 * returned from a call that V8 does not inline is a new heap number, and
 * Date.now() and performance.now() allocate one per call (measured: one
 * scavenge every ~0.7 s at 50k pps), so the loop uses neither.
 */
export interface Clock {
  read(into: Float64Array): void;
}

/** A millisecond clock for tests and tools that do not measure residence precisely. */
export const DATE_CLOCK: Clock = {
  read(into) {
    into[0] = Date.now() * 1000;
  },
};

/** What the loop needs to send a routed batch (ffi/routed.ts; a fake in tests). */
export interface DatagramSender {
  /**
   * Sends port.count datagrams with one sendmmsg. Returns how many the
   * kernel took; result[0] = refused, result[1] = last errno, result[2] = not
   * sent because the buffer was full, result[3] = payload bytes sent.
   */
  send(port: RoutedPort, result: Int32Array): number;
}

/** Slot offsets inside the per-output / per-rule counter blocks (registry order). */
const OUT_PACKETS = 0;
const OUT_BYTES = 1;
const OUT_RING_FULL = 2;
const OUT_TOO_BIG = 3;
const OUT_ERRORS = 4;
const OUT_TTL_EXPIRED = OUTPUT_COUNTERS.findIndex((c) => c.name === "ttl_expired");
const RULE_PACKETS = 0;
const RULE_BYTES = 1;

const W_RX_PACKETS = W.rx_packets;
const W_RX_BYTES = W.rx_bytes;
const W_MATCHED = W.matched;
const W_TX_SENT = W.tx_sent;
const W_TX_BYTES = W.tx_bytes;
const W_TX_RING_FULL = W.tx_ring_full;
const W_TX_ERRORS = W.tx_errors;
const W_TX_TOO_BIG = W.tx_too_big;
const W_ROUTED_BATCHES = W.routed_batches;
const W_LAST_ROUTED_ERRNO = W.last_routed_errno;
const W_RX_BLOCKS = W.rx_blocks;
const W_RX_GSO = W.rx_gso_frames;
const W_LOOP = W.loop_iterations;
const W_HEARTBEAT = W.heartbeat_ms;
const W_LOOP_STALL = W.loop_stall_ms;
const W_LOOP_STALL_MAX = W.loop_stall_max_ms;

/** sizeof(struct tpacket3_hdr): a packet header must fit before the block end. */
const TP3_HDR_SIZE = 48;
/** sizeof(struct tpacket2_hdr): a frame's packet starts after its header. */
const TP2_HDR_MIN = 32;

/** Everything the loop touches, built by the worker from a plan. */
export class LoopState {
  /** TX rings with frames queued since the last flush (preallocated, no growth per packet). */
  readonly dirty: TxPort[];
  dirtyCount = 0;
  /** Routed outputs with datagrams batched since the last flush. */
  readonly dirtyRouted: RoutedPort[];
  dirtyRoutedCount = 0;
  /** Result words of the last routed send (preallocated). */
  readonly sendResult = new Int32Array(4);
  /** Kernel receive times (µs) of the frames of the current batch, for residence times (preallocated). */
  readonly arrivals = new Float64Array(FRAME_BATCH);
  /** Inputs that are predecessors past a cut, not yet retired (succession.ts). */
  retiring = 0;
  /**
   * [0]: wall clock (ms) at the start of the current batch (the loop
   * guard's time). In a typed array: a double stored into an object field
   * may be boxed, an allocation per batch.
   */
  readonly batchMs = new Float64Array(1);
  /** [0]: the residence clock's last reading (µs). */
  readonly clockUs = new Float64Array(1);
  /** The GSO frame being split (gso.ts), reused: nothing allocated per frame. */
  readonly gso: GsoFrame = { mac: 0, ip: 0, udp: 0, family: 4, payload: 0 };
  /** How many datagrams the last frame given to forwardSegments() stood for. */
  gsoDatagrams = 0;
  constructor(
    readonly bytes: Uint8Array,
    readonly view: DataView,
    /** Replaced (not mutated) when retired predecessors are closed or successors released. */
    public inputs: InputPort[],
    readonly txPorts: TxPort[],
    readonly workerCounters: Float64Array,
    readonly ruleCounters: Float64Array,
    readonly outputCounters: Float64Array,
    readonly control: Int32Array,
    readonly kicker: Kicker,
    /** Called about once a second from the loop (kernel ring statistics, kick tallies). */
    readonly periodic: () => void,
    readonly routedPorts: RoutedPort[] = [],
    readonly sender: DatagramSender | null = null,
    /** Busy polling budget before each sleep, microseconds (0: none). */
    readonly busyPollUs = 0,
    readonly clock: Clock = DATE_CLOCK,
  ) {
    this.dirty = txPorts.slice();
    this.dirtyRouted = routedPorts.slice();
  }
}

/**
 * Runs until the supervisor sets CONTROL_COMMAND; returns that command.
 * waitTimeoutMs bounds how long an idle worker sleeps between checks.
 */
export function forwardLoop(s: LoopState, waitTimeoutMs: number): number {
  const inputs = s.inputs;
  const wc = s.workerCounters;
  const clockUs = s.clockUs;
  s.clock.read(clockUs);
  let lastPeriodic = clockUs[0] / 1000;
  // Stall: the longest single turn (its wait excluded), per second and for ever.
  let turnStart = lastPeriodic;
  let longestStall = 0;
  for (;;) {
    const command = Atomics.load(s.control, CONTROL_COMMAND);
    if (command !== COMMAND_RUN) {
      flush(s);
      return command;
    }
    let blocks = 0;
    // Round-robin: at most one block (or one batch of frames) per input per
    // turn, so one busy input cannot starve the others.
    for (let i = 0; i < inputs.length; i++) {
      const input = inputs[i];
      blocks += input.frames ? processFrames(s, input) : processBlock(s, input);
    }
    s.clock.read(clockUs);
    const now = clockUs[0] / 1000;
    wc[W_LOOP] += 1;
    wc[W_HEARTBEAT] = now;
    if (now - turnStart > longestStall) longestStall = now - turnStart;
    turnStart = now;
    if (now - lastPeriodic >= 1000) {
      lastPeriodic = now;
      wc[W_LOOP_STALL] = longestStall;
      if (longestStall > wc[W_LOOP_STALL_MAX]) wc[W_LOOP_STALL_MAX] = longestStall;
      longestStall = 0;
      s.periodic();
    }
    if (s.retiring !== 0 && retire(s) !== 0) {
      flush(s);
      return COMMAND_RETIRED;
    }
    if (blocks === 0) {
      if (s.busyPollUs > 0 && spinUntilReady(s) !== 0) continue;
      // A predecessor waiting for its settle time is looked at every millisecond.
      s.kicker.wait(s.retiring !== 0 ? 1 : waitTimeoutMs);
      s.clock.read(clockUs);
      turnStart = clockUs[0] / 1000;
    }
  }
}

/** Whether any input's next block or frame is user space's (a cut-held input never is). */
function anyReady(s: LoopState): boolean {
  const view = s.view;
  const inputs = s.inputs;
  for (let i = 0; i < inputs.length; i++) {
    const input = inputs[i];
    if (input.cut === CUT_HELD || input.cut === CUT_RETIRED) continue;
    const at = input.offset + input.cursor * input.blockSize;
    if (
      (view.getUint32(at + (input.frames ? TP2_STATUS : BLK_STATUS), true) & TP_STATUS_USER) !== 0
    ) return true;
  }
  return false;
}

/** Marks predecessors that have finished (succession.ts) as retired; returns how many. */
function retire(s: LoopState): number {
  s.clock.read(s.clockUs);
  const now = s.clockUs[0];
  let done = 0;
  for (let i = 0; i < s.inputs.length; i++) {
    const input = s.inputs[i];
    if (input.cut !== CUT_BEFORE) continue;
    const at = input.offset + input.cursor * input.blockSize;
    const ready =
      (s.view.getUint32(at + (input.frames ? TP2_STATUS : BLK_STATUS), true) & TP_STATUS_USER) !==
        0;
    if (finished(input, now, ready)) {
      input.cut = CUT_RETIRED;
      s.retiring--;
      done++;
    }
  }
  return done;
}

/**
 * Busy polling: looks at every input's next block or frame until one is
 * user space's, the control word changes, or busyPollUs passes. Returns 1
 * when something is ready (the caller processes it without sleeping).
 */
function spinUntilReady(s: LoopState): number {
  s.clock.read(s.clockUs);
  const end = s.clockUs[0] + s.busyPollUs;
  for (;;) {
    if (anyReady(s)) return 1;
    if (Atomics.load(s.control, CONTROL_COMMAND) !== COMMAND_RUN) return 1;
    s.clock.read(s.clockUs);
    if (s.clockUs[0] >= end) return 0;
  }
}

/**
 * Processes the input's current RX block if user space owns it: forwards
 * every packet, gives the block back, flushes, publishes counters.
 * Returns 1 if a block was processed, 0 if none was ready.
 */
export function processBlock(s: LoopState, input: InputPort): number {
  const view = s.view;
  const wc = s.workerCounters;
  if (input.cut === CUT_HELD || input.cut === CUT_RETIRED) return 0;
  const blk = input.offset + input.cursor * input.blockSize;
  if ((view.getUint32(blk + BLK_STATUS, true) & TP_STATUS_USER) === 0) return 0;
  s.clock.read(s.clockUs);
  s.batchMs[0] = s.clockUs[0] / 1000;

  const count = view.getUint32(blk + BLK_NUM_PKTS, true);
  const blockEnd = blk + input.blockSize;
  let pkt = blk + view.getUint32(blk + BLK_FIRST_PKT, true);
  let rx = 0;
  let rxBytes = 0;
  let matched = 0;
  for (let i = 0; i < count; i++) {
    // The kernel wrote these headers; check them anyway so a bad entry can
    // only cost this block, never a read outside the ring. The entries from
    // here on cannot be reached: count them all as taken and dropped, so
    // rx_packets still equals matched plus drops.
    if (pkt < blk || pkt + TP3_HDR_SIZE > blockEnd) {
      wc[DROP_SLOT_BASE + R_RING_CORRUPT - 1] += count - i;
      rx += count - i;
      break;
    }
    const snaplen = view.getUint32(pkt + TP3_SNAPLEN, true);
    const mac = pkt + view.getUint16(pkt + TP3_MAC, true);
    if (mac + snaplen > blockEnd) {
      wc[DROP_SLOT_BASE + R_RING_CORRUPT - 1] += count - i;
      rx += count - i;
      break;
    }
    // Around a ring succession, a packet the other side of the cut is the other ring's.
    if (
      input.cut === CUT_NONE ||
      admit(
        input,
        view.getUint32(pkt + TP3_SEC, true) * 1e6 + view.getUint32(pkt + TP3_NSEC, true) / 1000,
      )
    ) {
      rx++;
      rxBytes += snaplen;
      const status = view.getUint32(pkt + TP3_STATUS, true);
      // A VLAN tag the kernel took out of the frame (the outer one on a trunk).
      const vid = (status & TP_STATUS_VLAN_VALID) !== 0
        ? view.getUint32(pkt + TP3_VLAN_TCI, true) & 0x0fff
        : 0;
      const size = input.vnet && mac >= pkt + TP3_HDR_SIZE + VNET_HDR_LEN
        ? gsoSegmentSize(view, mac)
        : 0;
      if (size !== 0) {
        matched += forwardSegments(s, input, mac, snaplen, status, vid, size);
        rx += s.gsoDatagrams - 1;
      } else {
        const copies = forwardPacket(s, input, mac, snaplen, status, vid);
        if (copies < 0) wc[DROP_SLOT_BASE - copies - 1] += 1;
        else matched++;
      }
    }
    pkt += view.getUint32(pkt + TP3_NEXT_OFFSET, true);
  }

  // Give the block back to the kernel, then kick every TX ring we filled.
  view.setUint32(blk + BLK_STATUS, 0, true);
  input.cursor = input.cursor + 1 === input.blockCount ? 0 : input.cursor + 1;
  endBatch(s, rx, rxBytes, matched);
  return 1;
}

/** Stage "flush" + "publish" at the end of a batch (a V3 block, or a run of V2 frames). */
function endBatch(s: LoopState, rx: number, rxBytes: number, matched: number): void {
  flush(s);
  const wc = s.workerCounters;
  wc[W_RX_PACKETS] += rx;
  wc[W_RX_BYTES] += rxBytes;
  wc[W_MATCHED] += matched;
  wc[W_RX_BLOCKS] += 1;
}

/** Most frames one processFrames() call takes before it flushes and lets other inputs turn. */
export const FRAME_BATCH = 256;

/**
 * Frames mode (TPACKET_V2): takes every frame user space owns, from the
 * input's cursor on, up to FRAME_BATCH; forwards each, hands each frame back
 * at once, then flushes TX once for the batch. The kernel wakes the waiter
 * per packet when the loop sleeps, so a packet never waits for a block to
 * fill or a retire timer. Returns 1 if any frame was processed, else 0.
 */
export function processFrames(s: LoopState, input: InputPort): number {
  const view = s.view;
  const wc = s.workerCounters;
  const frameSize = input.blockSize;
  let rx = 0;
  let rxBytes = 0;
  let matched = 0;
  let timed = 0;
  const arrivals = s.arrivals;
  if (input.cut === CUT_HELD || input.cut === CUT_RETIRED) return 0;
  if (
    (view.getUint32(input.offset + input.cursor * frameSize + TP2_STATUS, true) &
      TP_STATUS_USER) === 0
  ) return 0;
  s.clock.read(s.clockUs);
  s.batchMs[0] = s.clockUs[0] / 1000;
  let taken = 0;
  while (taken < FRAME_BATCH) {
    const frame = input.offset + input.cursor * frameSize;
    const status = view.getUint32(frame + TP2_STATUS, true);
    if ((status & TP_STATUS_USER) === 0) break;
    const snaplen = view.getUint32(frame + TP2_SNAPLEN, true);
    const mac = frame + view.getUint16(frame + TP2_MAC, true);
    taken++;
    const stamp = view.getUint32(frame + TP2_SEC, true) * 1e6 +
      view.getUint32(frame + TP2_NSEC, true) / 1000;
    // Around a ring succession, a packet the other side of the cut is the other ring's.
    if (input.cut !== CUT_NONE && !admit(input, stamp)) {
      view.setUint32(frame + TP2_STATUS, 0, true);
      input.cursor = input.cursor + 1 === input.blockCount ? 0 : input.cursor + 1;
      continue;
    }
    rx++;
    if (mac < frame + TP2_HDR_MIN || mac + snaplen > frame + frameSize) {
      // The kernel wrote this header; a frame that cannot be read safely is
      // counted and skipped, never read outside its slot.
      wc[DROP_SLOT_BASE + R_RING_CORRUPT - 1] += 1;
    } else {
      rxBytes += snaplen;
      const vid = (status & TP_STATUS_VLAN_VALID) !== 0
        ? view.getUint16(frame + TP2_VLAN_TCI, true) & 0x0fff
        : 0;
      const size = input.vnet && mac >= frame + TP2_HDR_MIN + VNET_HDR_LEN
        ? gsoSegmentSize(view, mac)
        : 0;
      if (size !== 0) {
        // A UDP GSO frame: the datagrams it carries, one by one.
        const m = forwardSegments(s, input, mac, snaplen, status, vid, size);
        rx += s.gsoDatagrams - 1;
        matched += m;
        if (m > 0 && timed < FRAME_BATCH) arrivals[timed++] = stamp;
      } else {
        const copies = forwardPacket(s, input, mac, snaplen, status, vid);
        if (copies < 0) wc[DROP_SLOT_BASE - copies - 1] += 1;
        else {
          matched++;
          // The kernel's receive time (tp_sec, tp_nsec), read before the frame goes back.
          arrivals[timed++] = stamp;
        }
      }
    }
    view.setUint32(frame + TP2_STATUS, 0, true); // TP_STATUS_KERNEL: the frame is the kernel's again
    input.cursor = input.cursor + 1 === input.blockCount ? 0 : input.cursor + 1;
  }
  if (taken === 0) return 0;
  if (rx === 0) return 1;
  endBatch(s, rx, rxBytes, matched);
  if (timed > 0) recordResidence(s, timed);
  return 1;
}

/**
 * Residence time of each matched frame of the batch: from the kernel's
 * receive time to now, right after the batch's TX kick. One clock read per
 * batch; a few comparisons per packet into the worker's histogram slots.
 */
function recordResidence(s: LoopState, n: number): void {
  s.clock.read(s.clockUs);
  const now = s.clockUs[0];
  const wc = s.workerCounters;
  const arrivals = s.arrivals;
  let sum = 0;
  for (let k = 0; k < n; k++) {
    let r = now - arrivals[k];
    if (r < 0) r = 0; // the clock stepped back
    let b = 0;
    while (b < RESIDENCE_BUCKETS_US.length && r > RESIDENCE_BUCKETS_US[b]) b++;
    wc[RESIDENCE_SLOT_BASE + b] += 1;
    sum += r;
  }
  wc[RESIDENCE_SUM_SLOT] += sum;
  wc[RESIDENCE_COUNT_SLOT] += n;
}

/**
 * A UDP GSO frame (gso.ts): each datagram it carries goes through
 * forwardPacket() on its own, laid out in place. Returns how many were
 * matched and counts the drops; s.gsoDatagrams says how many datagrams the
 * frame stood for. A frame that is not one whole UDP datagram (a fragment,
 * another protocol, unparsable) is handled as it is.
 */
function forwardSegments(
  s: LoopState,
  input: InputPort,
  mac: number,
  len: number,
  status: number,
  vid: number,
  size: number,
): number {
  const wc = s.workerCounters;
  s.gsoDatagrams = 1;
  if (parseFrame(s.view, mac, len, vid) < 0 || FRAME[F_UDP] < 0 || FRAME[F_FRAG] !== 0) {
    const copies = forwardPacket(s, input, mac, len, status, vid);
    if (copies < 0) {
      wc[DROP_SLOT_BASE - copies - 1] += 1;
      return 0;
    }
    return 1;
  }
  const f = s.gso;
  f.mac = mac;
  f.ip = FRAME[F_IP];
  f.udp = FRAME[F_UDP];
  f.family = FRAME[F_FAMILY];
  f.payload = FRAME[F_L4_LEN] - 8;
  const n = segmentCount(f, size);
  if (n > GSO_MAX_SEGMENTS) {
    wc[DROP_SLOT_BASE + R_BAD_HEADER - 1] += 1;
    return 0;
  }
  s.gsoDatagrams = n;
  wc[W_RX_GSO] += 1;
  let matched = 0;
  for (let k = 0; k < n; k++) {
    const start = layOutSegment(s.view, s.bytes, f, size, k);
    // Its UDP checksum field holds the pseudo-header sum: finished like any partial checksum.
    const copies = forwardPacket(
      s,
      input,
      start,
      segmentFrameLength(f, size, k),
      status | TP_STATUS_CSUMNOTREADY,
      vid,
    );
    if (copies < 0) wc[DROP_SLOT_BASE - copies - 1] += 1;
    else matched++;
  }
  return matched;
}

/**
 * parse -> match -> one rewrite per output. Returns the number of copies
 * queued (>= 0) or -reason when the packet is dropped as a whole.
 */
export function forwardPacket(
  s: LoopState,
  input: InputPort,
  mac: number,
  len: number,
  status: number,
  ringVid = 0,
): number {
  const view = s.view;
  const parsed = parseFrame(view, mac, len, ringVid);
  if (parsed < 0) return parsed;

  const family = FRAME[F_FAMILY];
  const group = FRAME[F_GROUP];
  const src = FRAME[F_SRC];
  const ip = FRAME[F_IP];
  const frag = FRAME[F_FRAG];
  const vlan = FRAME[F_VLAN];
  const proto = FRAME[F_PROTO];
  const rule = frag === 2
    ? matchFragment(input.fragmentRules, family, group, src, view, ip, vlan, proto)
    : matchRule(input.rules, family, group, FRAME[F_PORT], src, view, ip, vlan, proto);
  // No rule: a protocol no rule relays is not_udp (as before any rule could take one).
  if (rule === null) return proto !== 17 ? -R_NOT_UDP : frag === 2 ? -R_FRAGMENT : -R_NO_MATCH;
  if (frag === 1 && !rule.allowFragments) return -R_FRAGMENT;
  // Like a router: a packet at its last hop goes nowhere that decrements the TTL;
  // where a fixed TTL is written, the loop guard stops a packet that comes back.
  const inTtl = view.getUint8(family === 4 ? ip + 8 : ip + 7);
  if (inTtl <= 1 && !rule.fixedTtl) return -R_TTL_EXPIRED;
  if (rule.guard !== null && FRAME[F_UDP] >= 0) {
    const sig = signature(view, family, ip, FRAME[F_UDP], FRAME[F_UDP_LEN]);
    if (returned(rule.guard, sig, input.ownSources.has(src), s.batchMs[0])) return -R_LOOP;
  }

  const rc = s.ruleCounters;
  rc[rule.slot * RULE_SLOTS + RULE_PACKETS] += 1;
  rc[rule.slot * RULE_SLOTS + RULE_BYTES] += len;

  let udpChecksum = 0;
  let srcDelta = 0;
  const udp = FRAME[F_UDP];
  if (udp >= 0) {
    // Only a whole datagram can be finished: a first fragment's UDP length
    // reaches past this frame (and the kernel finishes checksums before it
    // fragments, so it never flags one).
    udpChecksum = (status & TP_STATUS_CSUMNOTREADY) !== 0 && frag === 0
      ? finishPartialChecksum(view, udp, FRAME[F_UDP_LEN])
      : view.getUint16(udp + 6);
    srcDelta = family === 4 ? sourceDelta(src) : sourceDelta6(view, ip + 8);
  }

  const outputs = rule.outputs;
  let copies = 0;
  for (let i = 0; i < outputs.length; i++) {
    const out = outputs[i];
    if (inTtl <= 1 && out.ttl === TTL_DECREMENT) {
      s.outputCounters[out.slot * OUTPUT_SLOTS + OUT_TTL_EXPIRED] += 1;
      continue;
    }
    copies += out.egress === EGRESS_ROUTED
      ? emitRouted(s, out)
      : emit(s, out, udpChecksum, srcDelta);
  }
  return copies;
}

/**
 * Stage "tx": claims the output's next TX frame, rewrites the packet into it
 * and marks it SEND_REQUEST. Returns 1 if queued, 0 if dropped (counted).
 */
function emit(s: LoopState, out: Output, udpChecksum: number, srcDelta: number): number {
  const view = s.view;
  const tx = out.tx!;
  const oc = s.outputCounters;
  const wc = s.workerCounters;
  const o = out.slot * OUTPUT_SLOTS;
  // The MTU bounds the frame without its VLAN tag; the TX frame holds it with.
  const length = outputFrameLength(out);
  if (
    (out.vlan !== 0 ? length - VLAN_HLEN : length) > tx.maxFrame || length > tx.frameSize - TP2_DATA
  ) {
    oc[o + OUT_TOO_BIG] += 1;
    wc[W_TX_TOO_BIG] += 1; // per copy, like tx_ring_full: the packet itself matched
    return 0;
  }
  const frame = tx.offset + tx.head * tx.frameSize;
  let status = view.getUint32(frame + TP2_STATUS, true);
  if (status !== TP_STATUS_AVAILABLE && status !== TP_STATUS_WRONG_FORMAT) {
    // Ring full: kick what is queued once and look again (on veth a frame
    // stays SENDING until the receiving CPU takes it).
    flush(s);
    status = view.getUint32(frame + TP2_STATUS, true);
    if (status !== TP_STATUS_AVAILABLE && status !== TP_STATUS_WRONG_FORMAT) {
      oc[o + OUT_RING_FULL] += 1;
      wc[W_TX_RING_FULL] += 1;
      return 0;
    }
  }
  // A frame the kernel refused earlier is counted and reused.
  if (status === TP_STATUS_WRONG_FORMAT) wc[W_TX_ERRORS] += 1;

  const written = rewriteInto(view, s.bytes, frame + TP2_DATA, out, udpChecksum, srcDelta);
  view.setUint32(frame + TP2_LEN, written, true);
  view.setUint32(frame + TP2_STATUS, TP_STATUS_SEND_REQUEST, true);
  tx.head = tx.head + 1 === tx.frameCount ? 0 : tx.head + 1;
  if (tx.pending++ === 0) s.dirty[s.dirtyCount++] = tx;

  oc[o + OUT_PACKETS] += 1;
  oc[o + OUT_BYTES] += written;
  wc[W_TX_SENT] += 1;
  wc[W_TX_BYTES] += written;
  return 1;
}

/**
 * Stage "tx" for a routed output: copies the UDP payload into the socket's
 * next batch slot (the kernel builds the headers). A full batch is sent at
 * once. Returns 1 if batched, 0 if dropped (counted). Sends are counted in
 * sendRouted(), when the kernel has taken them.
 */
function emitRouted(s: LoopState, out: Output): number {
  const r = out.routed!;
  const udp = FRAME[F_UDP];
  const payload = FRAME[F_UDP_LEN] - 8;
  if (payload > r.slotSize) {
    s.outputCounters[out.slot * OUTPUT_SLOTS + OUT_TOO_BIG] += 1;
    s.workerCounters[W_TX_TOO_BIG] += 1;
    return 0;
  }
  if (r.count === r.slots) sendRouted(s, r);
  s.bytes.copyWithin(r.dataOffset + r.count * r.slotSize, udp + 8, udp + 8 + payload);
  r.lengths[r.count++] = payload;
  if (!r.queued) {
    r.queued = true;
    s.dirtyRouted[s.dirtyRoutedCount++] = r;
  }
  return 1;
}

/** One sendmmsg for the routed port's batch; counts what the kernel took, refused or had no room for. */
function sendRouted(s: LoopState, r: RoutedPort): void {
  const n = r.count;
  if (n === 0) return;
  const res = s.sendResult;
  const sent = s.sender!.send(r, res);
  r.count = 0;
  const oc = s.outputCounters;
  const wc = s.workerCounters;
  const o = r.counterSlot * OUTPUT_SLOTS;
  wc[W_ROUTED_BATCHES] += 1;
  if (sent < 0) {
    // The whole call failed (bad arguments): every datagram is an error.
    oc[o + OUT_ERRORS] += n;
    wc[W_TX_ERRORS] += n;
    wc[W_LAST_ROUTED_ERRNO] = -sent;
    return;
  }
  oc[o + OUT_PACKETS] += sent;
  oc[o + OUT_BYTES] += res[3];
  wc[W_TX_SENT] += sent;
  wc[W_TX_BYTES] += res[3];
  if (res[0] !== 0) {
    oc[o + OUT_ERRORS] += res[0];
    wc[W_TX_ERRORS] += res[0];
  }
  if (res[2] !== 0) {
    oc[o + OUT_RING_FULL] += res[2];
    wc[W_TX_RING_FULL] += res[2];
  }
  if (res[1] !== 0) wc[W_LAST_ROUTED_ERRNO] = res[1];
}

/**
 * Stage "flush": one io_uring submission kicks every TX ring filled since the
 * last flush, and one sendmmsg per routed output sends its batch.
 */
export function flush(s: LoopState): void {
  const routed = s.dirtyRoutedCount;
  if (routed !== 0) {
    for (let i = 0; i < routed; i++) {
      const r = s.dirtyRouted[i];
      sendRouted(s, r);
      r.queued = false;
    }
    s.dirtyRoutedCount = 0;
  }
  const n = s.dirtyCount;
  if (n === 0) return;
  for (let i = 0; i < n; i++) {
    const tx = s.dirty[i];
    s.kicker.queueKick(tx.fd);
    tx.pending = 0;
  }
  s.dirtyCount = 0;
  s.kicker.submit();
}
