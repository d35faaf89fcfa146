/**
 * THE forwarding loop of a worker, readable top to bottom:
 *
 *   wait -> take every ready frame (frames mode) or a block (blocks mode) ->
 *   per packet: forwardFrame() (forward_packet.ts: parse -> match -> checks
 *   -> per output, rewrite into a TX frame or batch for a routed socket,
 *   tx.ts) -> give the slot back (ring_handoff.ts) -> flush (tx.ts: one
 *   io_uring_enter kicks every dirty TX ring; one sendmmsg per routed batch)
 *   -> publish counters -> check control -> repeat.
 *
 * Nothing here allocates per packet, throws, or sees a pointer: the rings are
 * one Uint8Array/DataView over the worker's arena, the rules are monomorphic
 * objects built at plan time, and counters are Float64 slots in
 * SharedArrayBuffers (loop_state.ts holds them all).
 */
import * as L from "../../ffi/layout.ts";
import * as H from "../net/headers.ts";
import {
  RESIDENCE_BUCKETS_US,
  RESIDENCE_COUNT_SLOT,
  RESIDENCE_SLOT_BASE,
  RESIDENCE_SUM_SLOT,
  W,
} from "../stats/registry.ts";
import { COMMAND_RETIRED, COMMAND_RUN, CONTROL_COMMAND } from "./channel.ts";
import { forwardFrame, gsoSize } from "./forward_packet.ts";
import { countDrop, FRAME_BATCH, type LoopState } from "./loop_state.ts";
import * as P from "./parse.ts";
import { napAfterBatch, resetNaps, stopNapping } from "./naps.ts";
import { giveToKernel, userOwns } from "./ring_handoff.ts";
import type { InputPort } from "./rule_table.ts";
import { admit, CUT_BEFORE, CUT_HELD, CUT_NONE, CUT_RETIRED, finished } from "./succession.ts";
import { flush } from "./tx.ts";

// Other modules' constants as module-local aliases: V8 folds these into the per-packet code,
// not imported bindings (bench/loop_bench.ts measured ~25 % more per packet with imports).
const R_RING_CORRUPT = P.R_RING_CORRUPT;

const BLK_FIRST_PKT = L.BLK_FIRST_PKT;
const BLK_NUM_PKTS = L.BLK_NUM_PKTS;
const BLK_STATUS = L.BLK_STATUS;
const TP2_DATA = L.TP2_DATA;
const TP2_MAC = L.TP2_MAC;
const TP2_NSEC = L.TP2_NSEC;
const TP2_SEC = L.TP2_SEC;
const TP2_SNAPLEN = L.TP2_SNAPLEN;
const TP2_STATUS = L.TP2_STATUS;
const TP2_VLAN_TCI = L.TP2_VLAN_TCI;
const TP3_HDR_SIZE = L.TP3_HDR_SIZE;
const TP3_MAC = L.TP3_MAC;
const TP3_NEXT_OFFSET = L.TP3_NEXT_OFFSET;
const TP3_NSEC = L.TP3_NSEC;
const TP3_SEC = L.TP3_SEC;
const TP3_SNAPLEN = L.TP3_SNAPLEN;
const TP3_STATUS = L.TP3_STATUS;
const TP3_VLAN_TCI = L.TP3_VLAN_TCI;
const TP_STATUS_VLAN_VALID = L.TP_STATUS_VLAN_VALID;

const VLAN_VID_MASK = H.VLAN_VID_MASK;

const W_RX_PACKETS = W.rx_packets;
const W_RX_BYTES = W.rx_bytes;
const W_MATCHED = W.matched;
const W_RX_BLOCKS = W.rx_blocks;
const W_LOOP = W.loop_iterations;
const W_HEARTBEAT = W.heartbeat_ms;
const W_LOOP_STALL = W.loop_stall_ms;
const W_LOOP_STALL_MAX = W.loop_stall_max_ms;
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
  // Adaptive wake-ups (napUs, naps.ts): woken per packet while packets are sparse, napping
  // between batches once they are dense.
  resetNaps(s, clockUs[0]);
  for (;;) {
    const command = Atomics.load(s.control, CONTROL_COMMAND);
    if (command !== COMMAND_RUN) {
      flush(s);
      return command;
    }
    let blocks = 0;
    s.turnFrames = 0;
    // Round-robin: at most one block (or one batch of frames) per input per
    // turn, so one busy input cannot starve the others.
    for (let i = 0; i < inputs.length; i++) {
      const input = inputs[i];
      blocks += input.frames ? processFrames(s, input) : processBlock(s, input);
    }
    s.clock.read(clockUs);
    const nowUs = clockUs[0];
    const now = nowUs / 1000;
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
    // Resequencing merges: the held frames whose delay is over go out, in order.
    if (s.holds.length !== 0) releaseDue(s, nowUs);
    if (blocks !== 0) {
      // No naps while a predecessor retires (it is looked at every turn).
      if (s.napUs === 0 || s.retiring !== 0) stopNapping(s);
      else if (napAfterBatch(s, nowUs)) turnStart = clockUs[0] / 1000;
      continue;
    }
    stopNapping(s);
    if (s.busyPollUs > 0 && spinUntilReady(s) !== 0) continue;
    // A predecessor waiting for its settle time is looked at every millisecond.
    let waitMs = s.retiring !== 0 ? 1 : waitTimeoutMs;
    if (s.holds.length !== 0) {
      // A held frame is due before then: wake for it (the last millisecond by a nap).
      const leftUs = nextHeldDue(s) - nowUs;
      if (leftUs <= 0) continue;
      if (leftUs < 1000) {
        s.kicker.nap(leftUs | 0);
        s.clock.read(clockUs);
        turnStart = clockUs[0] / 1000;
        continue;
      }
      waitMs = Math.min(waitMs, Math.floor(leftUs / 1000));
    }
    s.kicker.wait(waitMs);
    s.clock.read(clockUs);
    turnStart = clockUs[0] / 1000;
  }
}

/** Judges the resequencing merges at `nowUs`: held frames whose delay is over are sent, in order. */
function releaseDue(s: LoopState, nowUs: number): void {
  const holds = s.holds;
  for (let i = 0; i < holds.length; i++) holds[i].sequence!.judge(nowUs);
  if (s.dirtyCount !== 0 || s.dirtyRoutedCount !== 0) flush(s);
}

/** When the first held frame is due (µs; Infinity: none held). */
function nextHeldDue(s: LoopState): number {
  let due = Infinity;
  const holds = s.holds;
  for (let i = 0; i < holds.length; i++) {
    const d = holds[i].sequence!.nextDueUs();
    if (d < due) due = d;
  }
  return due;
}

/** Whether any input's next block or frame is user space's (a cut-held input never is). */
function anyReady(s: LoopState): boolean {
  const view = s.view;
  const inputs = s.inputs;
  for (let i = 0; i < inputs.length; i++) {
    const input = inputs[i];
    if (input.cut === CUT_HELD || input.cut === CUT_RETIRED) continue;
    if (userOwns(view, statusAt(input))) return true;
  }
  return false;
}

/** Where the status word of the input's next block (or frame) is. */
function statusAt(input: InputPort): number {
  return input.offset + input.cursor * input.blockSize + (input.frames ? TP2_STATUS : BLK_STATUS);
}

/** The input's cursor moves on to its next block (or frame), around the ring. */
function advance(input: InputPort): void {
  input.cursor = input.cursor + 1 === input.blockCount ? 0 : input.cursor + 1;
}

/** Marks predecessors that have finished (succession.ts) as retired; returns how many. */
function retire(s: LoopState): number {
  s.clock.read(s.clockUs);
  const now = s.clockUs[0];
  let done = 0;
  for (let i = 0; i < s.inputs.length; i++) {
    const input = s.inputs[i];
    if (input.cut !== CUT_BEFORE) continue;
    if (finished(input, now, userOwns(s.view, statusAt(input)))) {
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
  if (!userOwns(view, blk + BLK_STATUS)) return 0;
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
      countDrop(wc, R_RING_CORRUPT, count - i);
      rx += count - i;
      break;
    }
    const snaplen = view.getUint32(pkt + TP3_SNAPLEN, true);
    const mac = pkt + view.getUint16(pkt + TP3_MAC, true);
    if (mac + snaplen > blockEnd) {
      countDrop(wc, R_RING_CORRUPT, count - i);
      rx += count - i;
      break;
    }
    // The kernel's receive time; around a ring succession, a packet the other side of the
    // cut is the other ring's.
    const stamp = view.getUint32(pkt + TP3_SEC, true) * 1e6 +
      view.getUint32(pkt + TP3_NSEC, true) / 1000;
    if (input.cut === CUT_NONE || admit(input, stamp)) {
      s.arrivalUs = stamp;
      rx++;
      rxBytes += snaplen;
      const status = view.getUint32(pkt + TP3_STATUS, true);
      // A VLAN tag the kernel took out of the frame (the outer one on a trunk).
      const vid = (status & TP_STATUS_VLAN_VALID) !== 0
        ? view.getUint32(pkt + TP3_VLAN_TCI, true) & VLAN_VID_MASK
        : 0;
      const size = gsoSize(s, input, mac, pkt + TP3_HDR_SIZE);
      matched += forwardFrame(s, input, mac, snaplen, status, vid, size);
      rx += s.gsoDatagrams - 1; // a GSO frame stands for several datagrams
    }
    pkt += view.getUint32(pkt + TP3_NEXT_OFFSET, true);
  }

  // Give the block back to the kernel, then kick every TX ring we filled.
  giveToKernel(view, blk + BLK_STATUS);
  advance(input);
  endBatch(s, rx, rxBytes, matched);
  return 1;
}

/** Stage "flush" + "publish" at the end of a batch (a V3 block, or a run of V2 frames). */
function endBatch(s: LoopState, rx: number, rxBytes: number, matched: number): void {
  flush(s, !s.napping);
  const wc = s.workerCounters;
  wc[W_RX_PACKETS] += rx;
  wc[W_RX_BYTES] += rxBytes;
  wc[W_MATCHED] += matched;
  wc[W_RX_BLOCKS] += 1;
}

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
  if (!userOwns(view, input.offset + input.cursor * frameSize + TP2_STATUS)) return 0;
  s.clock.read(s.clockUs);
  s.batchMs[0] = s.clockUs[0] / 1000;
  let taken = 0;
  while (taken < FRAME_BATCH) {
    const frame = input.offset + input.cursor * frameSize;
    if (!userOwns(view, frame + TP2_STATUS)) break;
    const status = view.getUint32(frame + TP2_STATUS, true);
    const snaplen = view.getUint32(frame + TP2_SNAPLEN, true);
    const mac = frame + view.getUint16(frame + TP2_MAC, true);
    taken++;
    const stamp = view.getUint32(frame + TP2_SEC, true) * 1e6 +
      view.getUint32(frame + TP2_NSEC, true) / 1000;
    // Around a ring succession, a packet the other side of the cut is the other ring's.
    if (input.cut !== CUT_NONE && !admit(input, stamp)) {
      giveToKernel(view, frame + TP2_STATUS);
      advance(input);
      continue;
    }
    rx++;
    if (mac < frame + TP2_DATA || mac + snaplen > frame + frameSize) {
      // The kernel wrote this header; a frame that cannot be read safely is
      // counted and skipped, never read outside its slot.
      countDrop(wc, R_RING_CORRUPT);
    } else {
      rxBytes += snaplen;
      s.arrivalUs = stamp;
      const vid = (status & TP_STATUS_VLAN_VALID) !== 0
        ? view.getUint16(frame + TP2_VLAN_TCI, true) & VLAN_VID_MASK
        : 0;
      const m = forwardFrame(
        s,
        input,
        mac,
        snaplen,
        status,
        vid,
        gsoSize(s, input, mac, frame + TP2_DATA),
      );
      rx += s.gsoDatagrams - 1; // a GSO frame stands for several datagrams
      matched += m;
      // The kernel's receive time (tp_sec, tp_nsec), read before the frame goes back.
      if (m > 0) arrivals[timed++] = stamp;
    }
    giveToKernel(view, frame + TP2_STATUS);
    advance(input);
  }
  if (taken === 0) return 0;
  s.turnFrames += taken;
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
