/**
 * Stage "inspect" of the forwarding loop, for rules that ask for it: the
 * datagram a rule matched is looked at (never changed) before it is
 * rewritten: its timing from the kernel's receive time, and by mode its RTP
 * header (rtp.ts) and/or the MPEG-TS packets it carries (ts.ts). Each
 * inspected stream has a StreamInspector in the worker its packets reach,
 * writing the stream's block of figures (stream_slots.ts) in a
 * SharedArrayBuffer the supervisor reads. Allocation-free per datagram.
 */
import { inspectRtp, SEQ_WINDOW } from "./rtp.ts";
import {
  IAT_BUCKETS_US,
  IAT_SLOT_BASE,
  P,
  PID_SLOTS,
  PID_TABLE_BASE,
  S,
  STREAM_BLOCK_SLOTS,
} from "./stream_slots.ts";
import { inspectTs } from "./ts.ts";

/** Inspection modes (config: inspect.mode). */
export const MODE_UDP = 0;
export const MODE_RTP = 1;
export const MODE_RTP_TS = 2;
export const MODE_TS = 3;
export const INSPECT_MODES = ["udp", "rtp", "rtp+ts", "ts"] as const;
export type InspectMode = typeof INSPECT_MODES[number];

/** What a worker is told about an inspected rule (a part of its RulePlan). */
export interface InspectPlan {
  mode: InspectMode;
  /** The stream's block: slot * STREAM_BLOCK_SLOTS in the worker's stream SharedArrayBuffer. */
  slot: number;
  /** The settings' epoch (> 0): a block written under another epoch is started again. */
  epoch: number;
  /** RTP clock rate (Hz); 0: from the payload type (90 kHz when not a static one). */
  clockRate: number;
  /** TR 101 290 2.3a limit: 100 ms, or 40 ms. */
  pcrRepetitionMs: number;
  /** TR 101 290 1.6 period: a referenced PID absent this long is an error. */
  pidPeriodMs: number;
}

const PACKETS = S.packets;
const BYTES = S.bytes;
const FIRST = S.first_us;
const LAST = S.last_us;
const IAT_MIN = S.iat_min_us;
const IAT_MAX = S.iat_max_us;
const IAT_SUM = S.iat_sum_us;
const IAT_COUNT = S.iat_count;
const IAT_BOUNDS = IAT_BUCKETS_US;
const IAT_BASE = IAT_SLOT_BASE;

/** One inspected stream in one worker: its mode, options, block and working state. */
export class StreamInspector {
  readonly mode: number;
  /** The worker's stream blocks; this stream's figures start at `base`. */
  readonly block: Float64Array;
  readonly base: number;
  readonly clockRate: number;
  readonly pcrLimitUs: number;
  readonly pidPeriodUs: number;
  /** RTP: the last SEQ_WINDOW sequence numbers received, one bit each. */
  readonly seen = new Uint32Array(SEQ_WINDOW / 32);
  /** MPEG-TS: PID -> row of the block's PID table, -1 when not seen. */
  readonly pidRow = new Int16Array(8192).fill(-1);
  /** RTP: the length of the payload inspectRtp() found (scratch, per datagram). */
  payloadLen = 0;

  constructor(plan: InspectPlan, block: Float64Array) {
    this.mode = INSPECT_MODES.indexOf(plan.mode);
    this.block = block;
    this.base = plan.slot * STREAM_BLOCK_SLOTS;
    this.clockRate = plan.clockRate;
    this.pcrLimitUs = plan.pcrRepetitionMs * 1000;
    this.pidPeriodUs = plan.pidPeriodMs * 1000;
    // New settings (another epoch), or a slot last used by another rule: start again.
    if (block[this.base + S.epoch] !== plan.epoch) {
      block.fill(0, this.base, this.base + STREAM_BLOCK_SLOTS);
      block[this.base + S.epoch] = plan.epoch;
    }
    // A block taken over from this worker's previous inspector of the stream (the rule
    // changed, not its inspect settings): its figures go on; its PID rows are found again,
    // and RTP starts a new run (the window of sequence numbers seen is not in the block).
    const rows = block[this.base + S.ts_pids];
    for (let r = 0; r < rows; r++) {
      const pid = block[this.base + PID_TABLE_BASE + r * PID_SLOTS + P.pid];
      if (pid >= 0 && pid < 8192) this.pidRow[pid] = r;
    }
    block[this.base + S.rtp_started] = 0;
  }
}

/**
 * Inspects one datagram: its UDP payload [off, off+len) in `view`, received
 * by the kernel at `arrivalUs` (µs, CLOCK_REALTIME).
 */
export function inspectDatagram(
  ins: StreamInspector,
  view: DataView,
  off: number,
  len: number,
  arrivalUs: number,
): void {
  const b = ins.block;
  const o = ins.base;
  b[o + PACKETS] += 1;
  b[o + BYTES] += len;
  const last = b[o + LAST];
  if (last > 0) {
    let iat = arrivalUs - last;
    if (iat < 0) iat = 0; // the clock stepped back
    if (b[o + IAT_COUNT] === 0 || iat < b[o + IAT_MIN]) b[o + IAT_MIN] = iat;
    if (iat > b[o + IAT_MAX]) b[o + IAT_MAX] = iat;
    b[o + IAT_SUM] += iat;
    b[o + IAT_COUNT] += 1;
    let k = 0;
    while (k < IAT_BOUNDS.length && iat > IAT_BOUNDS[k]) k++;
    b[o + IAT_BASE + k] += 1;
  } else {
    b[o + FIRST] = arrivalUs;
  }
  b[o + LAST] = arrivalUs;
  const mode = ins.mode;
  if (mode === MODE_UDP) return;
  if (mode === MODE_TS) {
    inspectTs(ins, view, off, len, arrivalUs);
    return;
  }
  const payload = inspectRtp(ins, view, off, len, arrivalUs);
  if (payload >= 0 && mode === MODE_RTP_TS) {
    inspectTs(ins, view, payload, ins.payloadLen, arrivalUs);
  }
}
