/**
 * Everything the forwarding loop's stages touch, built once per plan by the
 * worker (forward_loop.ts reads it top to bottom; forward_packet.ts and
 * tx.ts are its stages), and the seams tests replace: the native waiter
 * (Kicker), the clock and the routed sender.
 */
import { DROP_SLOT_BASE } from "../stats/registry.ts";
import type { GsoFrame } from "./gso.ts";
import type { InputPort, RoutedPort, TxPort } from "./rule_table.ts";
import type { MergePair } from "../merge/merge_stage.ts";

/** What the loop needs from the native waiter (ffi/waiter.ts Waiter; a fake in tests). */
export interface Kicker {
  /** Blocks until an RX ring or the control eventfd is ready, or timeout. */
  wait(timeoutMs: number): number;
  /** Queues a kick of a TX ring (sent at the next submit). */
  queueKick(fd: number): number;
  /** One io_uring_enter for every queued kick. */
  submit(): number;
  /** Submits the queued kicks and sleeps up to `us` µs; arriving packets do not wake it. */
  nap(us: number): number;
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

/** Most frames one processFrames() call takes before it flushes and lets other inputs turn. */
export const FRAME_BATCH = 256;

/** What a worker builds a LoopState from (worker.ts; tests/helpers/fake_ring.ts). */
export interface LoopOptions {
  /** The worker's arena: every ring and batch area, one Uint8Array and one DataView over it. */
  bytes: Uint8Array;
  view: DataView;
  inputs: InputPort[];
  txPorts: TxPort[];
  routedPorts?: RoutedPort[];
  /** The worker's counter blocks (src/stats/registry.ts): worker, per rule, per output. */
  workerCounters: Float64Array;
  ruleCounters: Float64Array;
  outputCounters: Float64Array;
  /** The control words the supervisor writes (channel.ts). */
  control: Int32Array;
  kicker: Kicker;
  /** Called about once a second from the loop (kernel ring statistics, kick tallies). */
  periodic: () => void;
  sender?: DatagramSender | null;
  /** Busy polling budget before each sleep, microseconds (0: none). */
  busyPollUs?: number;
  /**
   * Adaptive wake-ups (naps.ts): once a turn takes 6 frames or more, the loop
   * naps between batches instead of being woken per packet, until a nap brings
   * fewer than 4 (0: always woken per packet). A nap asks for the rest of napUs
   * after the last wake-up; what it takes (its kicks, the host's timer) is counted
   * in loop_nap_us.
   */
  napUs?: number;
  clock?: Clock;
  /** Resequencing merges (src/merge/): their held frames go out when due (forward_loop.ts). */
  holds?: MergePair[];
}

const NO_HOLDS: MergePair[] = [];

/** Everything the loop touches, built by the worker from a plan. */
export class LoopState {
  // Fields set from the options are `declare`d: a class field declared without
  // a value would first be defined as undefined, and V8 would then widen its
  // field type, losing the map of the views on the per-packet path (measured:
  // +25 % per packet in bench/loop_bench.ts).
  declare readonly bytes: Uint8Array;
  declare readonly view: DataView;
  /** Replaced (not mutated) when retired predecessors are closed or successors released. */
  declare inputs: InputPort[];
  declare readonly txPorts: TxPort[];
  declare readonly routedPorts: RoutedPort[];
  declare readonly workerCounters: Float64Array;
  declare readonly ruleCounters: Float64Array;
  declare readonly outputCounters: Float64Array;
  declare readonly control: Int32Array;
  declare readonly kicker: Kicker;
  declare readonly periodic: () => void;
  declare readonly sender: DatagramSender | null;
  declare readonly busyPollUs: number;
  declare readonly napUs: number;
  declare readonly clock: Clock;
  declare readonly holds: MergePair[];
  /** TX rings with frames queued since the last flush (preallocated, no growth per packet). */
  declare readonly dirty: TxPort[];
  dirtyCount = 0;
  /** Routed outputs with datagrams batched since the last flush. */
  declare readonly dirtyRouted: RoutedPort[];
  dirtyRoutedCount = 0;
  /** Result words of the last routed send (preallocated). */
  readonly sendResult = new Int32Array(4);
  /** Kernel receive times (µs) of the frames of the current batch, for residence times (preallocated). */
  readonly arrivals = new Float64Array(FRAME_BATCH);
  /** Inputs that are predecessors past a cut, not yet retired (succession.ts). */
  retiring = 0;
  /** Napping between batches (packets come fast): a batch's kicks wait for the nap that sends them. */
  napping = false;
  /** [0]: when the current nap period began (µs; naps.ts). */
  readonly napTimes = new Float64Array(1);
  /** Frames the current turn took from every input. */
  turnFrames = 0;
  /** Kernel receive time (µs) of the frame being forwarded (the inspect stage's clock). */
  arrivalUs = 0;
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

  constructor(o: LoopOptions) {
    this.bytes = o.bytes;
    this.view = o.view;
    this.inputs = o.inputs;
    this.txPorts = o.txPorts;
    this.routedPorts = o.routedPorts ?? [];
    this.workerCounters = o.workerCounters;
    this.ruleCounters = o.ruleCounters;
    this.outputCounters = o.outputCounters;
    this.control = o.control;
    this.kicker = o.kicker;
    this.periodic = o.periodic;
    this.sender = o.sender ?? null;
    this.busyPollUs = o.busyPollUs ?? 0;
    this.napUs = o.napUs ?? 0;
    this.clock = o.clock ?? DATE_CLOCK;
    // One empty array for every loop without held frames: the loop's code then meets one array
    // shape whoever built the state (a rehearsal, a plan).
    this.holds = o.holds !== undefined && o.holds.length !== 0 ? o.holds : NO_HOLDS;
    this.dirty = this.txPorts.slice();
    this.dirtyRouted = this.routedPorts.slice();
  }
}

/** Counts `n` packets dropped for `reason` (a DROP id, src/stats/registry.ts) in a worker block. */
export function countDrop(workerCounters: Float64Array, reason: number, n = 1): void {
  workerCounters[DROP_SLOT_BASE + reason - 1] += n;
}
