/**
 * The rehearsal: before a worker serves any ring, it runs its own loop
 * (forwardLoop -> processFrames -> forwardFrame -> rewrite -> TX -> flush,
 * waits and naps) over synthetic packets on rings in its own memory, with
 * counters no one reads and a kicker that plays the kernel. V8 then has compiled the
 * per-packet code before the first real packet comes.
 *
 * Why: measured with the loop's per-turn timestamps (256 B at 50k pps), a
 * cold worker took 16-31 µs per frame in its first 10 ms and 3-8 µs (instead
 * of about 1) until about 0.5 s into its first stream; that start held 1.5-2 %
 * of a 4-second stream for more than 1 ms, which was the whole difference
 * between mcr's p99 and the C loop's. The stages are the production ones;
 * only the rings, counters and kicker are stand-ins.
 */
import * as L from "../../ffi/layout.ts";
import * as H from "../net/headers.ts";
import { ip, ipWords, multicastMac } from "../net/address.ts";
import { ipv4HeaderChecksum } from "../net/checksum.ts";
import { OUTPUT_SLOTS, RULE_SLOTS, W, WORKER_SLOTS } from "../stats/registry.ts";
import { COMMAND_RUN, COMMAND_STOP, CONTROL_COMMAND, CONTROL_WORDS } from "./channel.ts";
import { forwardLoop, processFrames } from "./forward_loop.ts";
import { type Clock, type Kicker, type LoopOptions, LoopState } from "./loop_state.ts";
import type { InputPort, TxPort } from "./rule_table.ts";
import { type OutputPlan, TTL_DECREMENT, type WorkerPlan } from "./plan_types.ts";
import { buildTables, type RxRingRef, type TxRingRef } from "./tables.ts";

/**
 * Synthetic packets a worker forwards before it serves: 0.1-0.2 s of one core, once per thread
 * (measured with V8 15: every per-packet function optimized by TurboFan by the end; 60,000 left
 * some still compiling).
 */
export const REHEARSAL_PACKETS = 150_000;

const FRAME_SIZE = 2048;
const RX_FRAMES = 512;
const TX_FRAMES = 2048;
/** Where the kernel puts a frame's MAC header in a TPACKET_V2 slot (tp_mac), as it does here. */
const RX_MAC = 80;
const IN_IFINDEX = 1;
const OUT_IFINDEX = 2;
const SENDER = "10.255.0.2";
const OTHER_SENDER = "10.255.1.2";
/** [group, UDP payload bytes, sender] of the synthetic streams, taken in turn. */
const STREAMS: readonly [string, number, string][] = [
  ["239.255.0.1", 1316, SENDER], // rule "any": 7 x 188-byte TS packets
  ["239.255.0.1", 1316, SENDER],
  ["239.255.0.1", 200, SENDER],
  ["239.255.0.2", 1316, SENDER], // rule "sourced": from its sender
  ["239.255.0.2", 256, OTHER_SENDER], // ... not from it: no rule
  ["239.255.0.3", 512, SENDER], // no rule at all
];

/** What a rehearsal did: packets taken, packets matched, copies sent, and its length. */
export interface RehearsalResult {
  packets: number;
  matched: number;
  copies: number;
  ms: number;
}

/**
 * Runs the loop over `packets` synthetic packets; returns what it did.
 * Touches nothing outside its own buffers but `clock` (read, as the loop
 * does) and the worker's kicker, which sees only kicks without a descriptor
 * (refused at once) and submits with nothing queued: no socket or ring is
 * written, no counter of the worker's moves, nothing waits or naps.
 */
export function rehearse(
  clock: Clock,
  worker: Pick<LoopOptions, "kicker" | "sender" | "periodic">,
  packets = REHEARSAL_PACKETS,
): RehearsalResult {
  clock.read(STAMP);
  const startUs = STAMP[0];
  const plan = rehearsalPlan();
  const rxBytes = FRAME_SIZE * RX_FRAMES;
  const buffer = new ArrayBuffer(rxBytes + FRAME_SIZE * TX_FRAMES);
  const bytes = new Uint8Array(buffer);
  const view = new DataView(buffer);
  const rx: RxRingRef = {
    id: -1,
    fd: -1,
    offset: 0,
    blockSize: FRAME_SIZE,
    blockCount: RX_FRAMES,
    frames: true,
    frameSize: FRAME_SIZE,
    frameCount: RX_FRAMES,
  };
  const tx: TxRingRef = {
    id: -2,
    fd: -2,
    offset: rxBytes,
    frameSize: FRAME_SIZE,
    frameCount: TX_FRAMES,
  };
  const tables = buildTables(plan, new Map([[IN_IFINDEX, rx]]), new Map([[OUT_IFINDEX, tx]]));
  const control = new Int32Array(new SharedArrayBuffer(CONTROL_WORDS * 4));
  Atomics.store(control, CONTROL_COMMAND, COMMAND_RUN);
  // The kernel's RX side: a batch of frames, as it writes them, stamped now.
  const frames = STREAMS.map(([group, size, sender]) => udpFrame(group, size, sender));
  let filled = 0;
  let at = 0;
  const writeBatch = () => {
    clock.read(STAMP);
    const n = Math.min(RX_FRAMES / 2, packets - filled);
    for (let i = 0; i < n; i++) {
      writeFrame(view, bytes, at * FRAME_SIZE, frames[(filled + i) % frames.length], STAMP[0]);
      at = at + 1 === RX_FRAMES ? 0 : at + 1;
    }
    filled += n;
  };
  // A loop state holding the worker's own kicker and sender, built first: the compiled code
  // meets both kinds of kicker, so the worker's first real batch throws none of it away
  // (measured: a "wrong map" at the kick, then processFrames recompiled under traffic). Its
  // kicks have no descriptor and are refused at once: nothing is sent or counted.
  const own = loopState(tables.inputs, tables.txPorts, control, worker, clock, 0, bytes, view);
  const input = tables.inputs[0];
  let batches = 0;
  // New packets for the loop; false when there are none left. Every fourth batch goes through
  // the state with the worker's kicker; the stand-in kernel then sends what it left queued.
  const feed = (): boolean => {
    if (filled === packets) return false;
    if (++batches % 4 === 0) {
      writeBatch();
      while (processFrames(own, input) !== 0) { /* every frame written */ }
      kicker.submit();
      if (filled === packets) return false;
    }
    writeBatch();
    return true;
  };
  const kicker = new StandInKernel(view, tx, feed, control);
  const s = loopState(
    tables.inputs,
    tables.txPorts,
    control,
    { kicker, sender: null, periodic: () => {} },
    clock,
    plan.napUs ?? 0,
    bytes,
    view,
  );
  // Fields the worker writes after it builds a loop state, written here too: V8 then does not
  // compile them as constants (measured: "field type constness changed" threw processFrames
  // away at the first plan).
  for (const state of [own, s]) {
    state.retiring = 0;
    state.inputs = state.inputs.slice();
  }
  // The loop itself, as the worker runs it: woken, napping, kicking, until the stand-in
  // kernel has no more packets and stops it.
  feed();
  forwardLoop(s, 10);
  clock.read(STAMP);
  const counted = (slot: number) => s.workerCounters[slot] + own.workerCounters[slot];
  return {
    packets: counted(W.rx_packets),
    matched: counted(W.matched),
    copies: kicker.sent,
    ms: (STAMP[0] - startUs) / 1000,
  };
}

const STAMP = new Float64Array(1);

/** A LoopState as the worker builds one (counters in shared memory), over `bytes`. */
function loopState(
  inputs: InputPort[],
  txPorts: TxPort[],
  control: Int32Array,
  worker: Pick<LoopOptions, "kicker" | "sender" | "periodic">,
  clock: Clock,
  napUs: number,
  bytes = new Uint8Array(0),
  view = new DataView(bytes.buffer),
): LoopState {
  const f64 = (n: number) => new Float64Array(new SharedArrayBuffer(n * 8));
  return new LoopState({
    bytes,
    view,
    inputs,
    txPorts,
    workerCounters: f64(WORKER_SLOTS),
    ruleCounters: f64(2 * RULE_SLOTS),
    outputCounters: f64(3 * OUTPUT_SLOTS),
    control,
    kicker: worker.kicker,
    periodic: worker.periodic,
    sender: worker.sender,
    napUs,
    clock,
  });
}

/** Two rules on one input, three outputs: the branches a relay's rules commonly take. */
function rehearsalPlan(): WorkerPlan {
  const src = ipWords(ip("10.255.2.1"));
  const output = (slot: number, group: string, ttl: number, tos: number): OutputPlan => ({
    egress: "l2",
    ifindex: OUT_IFINDEX,
    slot,
    family: 4,
    dst: ipWords(ip(group)),
    port: 6000 + slot,
    src,
    hasSrc: false,
    ttl,
    tos,
    maxPayload: 1500,
    vlan: 0,
  });
  const rule = (name: string, slot: number, group: string, sender: number[], mask: number[]) => ({
    name,
    slot,
    inputIfindex: IN_IFINDEX,
    family: 4 as const,
    dst: ipWords(ip(group)),
    port: 5000,
    protocol: H.IPPROTO_UDP,
    srcAddr: sender,
    srcMask: mask,
    srcPrefix: mask[0] === 0 ? 0 : 32,
    allowFragments: false,
    vlan: 0,
    spread: false,
  });
  return {
    generation: 0,
    rx: [{
      ifname: "rehearsal-in",
      ifindex: IN_IFINDEX,
      geometry: {
        frames: true,
        blockSize: FRAME_SIZE * RX_FRAMES,
        blockCount: 1,
        frameSize: FRAME_SIZE,
        retireMs: 1,
        bytes: FRAME_SIZE * RX_FRAMES,
      },
      fanoutId: 0,
      filter: [],
      passFragments: false,
    }],
    tx: [{
      ifname: "rehearsal-out",
      ifindex: OUT_IFINDEX,
      mac: [2, 0, 0, 0, 2, 1],
      mtu: 1500,
      geometry: {
        frameSize: FRAME_SIZE,
        frameCount: TX_FRAMES,
        bytes: FRAME_SIZE * TX_FRAMES,
        qdiscBypass: false,
      },
    }],
    rules: [
      {
        ...rule("any", 0, "239.255.0.1", [0], [0]),
        outputs: [
          output(0, "239.255.9.1", TTL_DECREMENT, -1),
          output(1, "239.255.9.2", 8, 46 << 2),
        ],
      },
      {
        ...rule("sourced", 1, "239.255.0.2", ipWords(ip(SENDER)), [-1]),
        outputs: [output(2, "239.255.9.3", 8, -1)],
      },
    ],
    napUs: 50,
    workerCount: 1,
  };
}

/** An Ethernet + IPv4 + UDP frame to `group`:5000 from `sender`, with `size` payload bytes. */
function udpFrame(group: string, size: number, sender: string): Uint8Array {
  const ipLen = H.IPV4_HLEN + H.UDP_HLEN + size;
  const frame = new Uint8Array(H.ETH_HLEN + ipLen);
  const v = new DataView(frame.buffer);
  frame.set(multicastMac(ip(group)), H.ETH_DST);
  frame.set([2, 0, 0, 0, 1, 2], H.ETH_SRC);
  v.setUint16(H.ETH_TYPE, H.ETHERTYPE_IPV4);
  const o = H.ETH_HLEN;
  v.setUint8(o, 0x45);
  v.setUint16(o + H.IP4_TOTAL_LEN, ipLen);
  v.setUint8(o + H.IP4_TTL, 16);
  v.setUint8(o + H.IP4_PROTO, H.IPPROTO_UDP);
  v.setInt32(o + H.IP4_SRC, ipWords(ip(sender))[0]);
  v.setInt32(o + H.IP4_DST, ipWords(ip(group))[0]);
  v.setUint16(o + H.IP4_CHECK, ipv4HeaderChecksum(v, o, H.IPV4_HLEN));
  const u = o + H.IPV4_HLEN;
  v.setUint16(u + H.UDP_SRC_PORT, 4000);
  v.setUint16(u + H.UDP_DST_PORT, 5000);
  v.setUint16(u + H.UDP_LEN, H.UDP_HLEN + size);
  for (let i = u + H.UDP_HLEN; i < frame.length; i++) frame[i] = i & 0xff;
  // A checksum as most senders fill it (the relay updates it, it does not verify it); the
  // 200-byte stream has none, as some senders send.
  if (size !== 200) v.setUint16(u + H.UDP_CHECK, 0x1234 + size);
  return frame;
}

/** Writes `frame` into the TPACKET_V2 slot at `slot` as the kernel does, status last. */
function writeFrame(
  view: DataView,
  bytes: Uint8Array,
  slot: number,
  frame: Uint8Array,
  stampUs: number,
): void {
  view.setUint32(slot + L.TP2_LEN, frame.length, true);
  view.setUint32(slot + L.TP2_SNAPLEN, frame.length, true);
  view.setUint16(slot + L.TP2_MAC, RX_MAC, true);
  view.setUint32(slot + L.TP2_SEC, Math.floor(stampUs / 1e6), true);
  // Nanoseconds as the kernel writes them: not a whole number of microseconds.
  view.setUint32(slot + L.TP2_NSEC, Math.floor((stampUs % 1e6) * 1000) + 137, true);
  view.setUint16(slot + L.TP2_VLAN_TCI, 0, true);
  bytes.set(frame, slot + RX_MAC);
  view.setUint32(slot + L.TP2_STATUS, L.TP_STATUS_USER, true);
}

/**
 * The kicker of a rehearsal: plays the kernel's TX side. Each kick or wait
 * sends every frame the loop queued (its slot becomes free again) and counts it.
 */
class StandInKernel implements Kicker {
  sent = 0;
  constructor(
    readonly view: DataView,
    readonly tx: TxRingRef,
    /** Writes the next batch of RX frames; false when there is none. */
    readonly feed: () => boolean,
    readonly control: Int32Array,
  ) {}
  /** Sends what is queued; new packets arrive, or, with none left, the loop is told to stop. */
  wait(_timeoutMs: number): number {
    this.submit();
    if (!this.feed()) Atomics.store(this.control, CONTROL_COMMAND, COMMAND_STOP);
    return 0;
  }
  queueKick(_fd: number): number {
    return 0;
  }
  submit(): number {
    const view = this.view;
    for (let i = 0; i < this.tx.frameCount; i++) {
      const at = this.tx.offset + i * this.tx.frameSize + L.TP2_STATUS;
      if (view.getUint32(at, true) === L.TP_STATUS_SEND_REQUEST) {
        view.setUint32(at, L.TP_STATUS_AVAILABLE, true);
        this.sent++;
      }
    }
    return 0;
  }
  /** Sends what is queued; packets arrive meanwhile (no sleep). */
  nap(_us: number): number {
    this.submit();
    this.feed();
    return 0;
  }
}
