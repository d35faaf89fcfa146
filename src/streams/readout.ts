/**
 * Reading inspected streams back (the supervisor's side; pure): a stream's
 * blocks from every worker (its packets may reach more than one) and the
 * totals of exited workers are merged into one report: counters summed,
 * current values from the worker that saw the stream last, PID rows merged
 * by PID. Its health follows from when the last error of each class
 * happened: a priority 1 error within critical_window_s makes it CRITICAL,
 * RTP loss or a priority 2 error within warning_window_s WARNING.
 */
import {
  IAT_BUCKETS_US,
  IAT_SLOT_BASE,
  P,
  PID_IS_PCR,
  PID_IS_PMT,
  PID_REFERENCED,
  PID_SLOTS,
  PID_TABLE_BASE,
  S,
  STREAM_BLOCK_SLOTS,
  STREAM_SLOTS,
  type StreamSlotName,
} from "./stream_slots.ts";

export type StreamState = "ok" | "warning" | "critical";

export interface PidReport {
  pid: number;
  /** pat, cat, pmt, pcr (a PCR PID), es (another PID the PMT refers to), null, other. */
  kind: string;
  packets: number;
  cc_errors: number;
  /** Seconds since its last packet. */
  last_seen_s: number;
}

export interface StreamReport {
  rule: string;
  mode: string;
  state: StreamState;
  /** Why, worst first (empty when ok). */
  reasons: string[];
  /** The indicator behind the state, e.g. "ts_cc_error (TR 101 290 1.4)"; null when ok. */
  indicator: string | null;
  packets: number;
  bytes: number;
  /** Rates over the last second (0 until two readings). */
  packets_per_second: number;
  bits_per_second: number;
  /** Kernel receive time of the last datagram (ms since the epoch; 0 before the first). */
  last_packet_ms: number;
  interarrival_ms: { min: number; mean: number; max: number; p99: number } | null;
  rtp: Record<string, number> | null;
  ts: Record<string, number | PidReport[]> | null;
}

export interface StreamHealthOptions {
  criticalWindowS: number;
  warningWindowS: number;
}

/** Merges one stream's blocks: `blocks` are live workers' arrays, `archived` the exited ones' sum. */
export function mergeStream(
  blocks: readonly Float64Array[],
  archived: Float64Array | null,
  slot: number,
): Float64Array {
  const base = slot * STREAM_BLOCK_SLOTS;
  const out = new Float64Array(STREAM_BLOCK_SLOTS);
  // The live worker that saw the stream last gives the current values.
  let latest: Float64Array | null = null;
  for (const b of blocks) {
    if (latest === null || b[base + S.last_us] > latest[base + S.last_us]) latest = b;
  }
  STREAM_SLOTS.forEach((spec, i) => {
    if (spec.kind === "counter") {
      let v = archived ? archived[base + i] : 0;
      for (const b of blocks) v += b[base + i];
      out[i] = v;
    } else if (latest) out[i] = latest[base + i];
  });
  for (let k = 0; k <= IAT_BUCKETS_US.length; k++) {
    let v = archived ? archived[base + IAT_SLOT_BASE + k] : 0;
    for (const b of blocks) v += b[base + IAT_SLOT_BASE + k];
    out[IAT_SLOT_BASE + k] = v;
  }
  out[S.iat_sum_us] = blocks.reduce((a, b) => a + b[base + S.iat_sum_us], 0);
  out[S.iat_count] = blocks.reduce((a, b) => a + b[base + S.iat_count], 0);
  out[S.iat_min_us] = Math.min(
    ...blocks.filter((b) => b[base + S.iat_count] > 0).map((b) => b[base + S.iat_min_us]),
    Infinity,
  );
  out[S.iat_max_us] = Math.max(0, ...blocks.map((b) => b[base + S.iat_max_us]));
  // PID rows merged by PID, in the order the workers list them.
  const rows = new Map<number, number>();
  let used = 0;
  for (const b of blocks) {
    for (let r = 0; r < b[base + S.ts_pids]; r++) {
      const from = base + PID_TABLE_BASE + r * PID_SLOTS;
      const pid = b[from + P.pid];
      let at = rows.get(pid);
      if (at === undefined) {
        if (used === Math.floor((STREAM_BLOCK_SLOTS - PID_TABLE_BASE) / PID_SLOTS)) continue;
        at = PID_TABLE_BASE + used++ * PID_SLOTS;
        rows.set(pid, at);
        out[at + P.pid] = pid;
      }
      out[at + P.packets] += b[from + P.packets];
      out[at + P.cc_errors] += b[from + P.cc_errors];
      out[at + P.flags] = out[at + P.flags] | b[from + P.flags];
      out[at + P.last_us] = Math.max(out[at + P.last_us], b[from + P.last_us]);
    }
  }
  out[S.ts_pids] = used;
  // Health inputs: the latest of each class over every worker.
  for (const [at, which] of [[S.last_p1_us, S.last_p1_slot], [S.last_p2_us, S.last_p2_slot]]) {
    for (const b of blocks) {
      if (b[base + at] > out[at]) {
        out[at] = b[base + at];
        out[which] = b[base + which];
      }
    }
  }
  out[S.rtp_last_loss_us] = Math.max(0, ...blocks.map((b) => b[base + S.rtp_last_loss_us]));
  return out;
}

/** The upper bound of the bucket holding quantile q of the inter-arrival histogram (µs). */
function iatQuantileUs(m: Float64Array, q: number): number {
  let total = 0;
  for (let k = 0; k <= IAT_BUCKETS_US.length; k++) total += m[IAT_SLOT_BASE + k];
  if (total === 0) return 0;
  let seen = 0;
  for (let k = 0; k < IAT_BUCKETS_US.length; k++) {
    seen += m[IAT_SLOT_BASE + k];
    if (seen >= q * total) return IAT_BUCKETS_US[k];
  }
  return Infinity;
}

function pidKind(pid: number, flags: number): string {
  if (pid === 0) return "pat";
  if (pid === 1) return "cat";
  if (pid === 0x1fff) return "null";
  if ((flags & PID_IS_PMT) !== 0) return "pmt";
  if ((flags & PID_IS_PCR) !== 0) return "pcr";
  if ((flags & PID_REFERENCED) !== 0) return "es";
  return "other";
}

const ms = (us: number) => +(us / 1000).toFixed(3);

/** Names and TR 101 290 codes of a block slot, for reasons. */
function indicatorName(slot: number): string {
  const spec = STREAM_SLOTS[slot] as { name: string; tr101290?: string } | undefined;
  if (!spec) return "unknown";
  return spec.tr101290 ? `${spec.name} (TR 101 290 ${spec.tr101290})` : spec.name;
}

/** The report of one merged stream at `nowUs`. */
export function streamReport(
  rule: string,
  mode: string,
  m: Float64Array,
  nowUs: number,
  health: StreamHealthOptions,
  rates: { pps: number; bps: number },
): StreamReport {
  const v = (name: StreamSlotName) => m[S[name]];
  const reasons: string[] = [];
  let state: StreamState = "ok";
  let indicator: string | null = null;
  const p1Age = nowUs - v("last_p1_us");
  if (v("last_p1_us") > 0 && p1Age < health.criticalWindowS * 1e6) {
    state = "critical";
    indicator = indicatorName(v("last_p1_slot"));
    reasons.push(
      `${indicator} ${(p1Age / 1e6).toFixed(1)} s ago (critical for ${health.criticalWindowS} s)`,
    );
  }
  if (health.warningWindowS > 0) {
    const window = health.warningWindowS * 1e6;
    const lossAge = nowUs - v("rtp_last_loss_us");
    if (v("rtp_last_loss_us") > 0 && lossAge < window) {
      if (state === "ok") {
        state = "warning";
        indicator = "rtp_lost";
      }
      reasons.push(`RTP loss ${(lossAge / 1e6).toFixed(1)} s ago (${v("rtp_lost")} lost in all)`);
    }
    const p2Age = nowUs - v("last_p2_us");
    if (v("last_p2_us") > 0 && p2Age < window) {
      if (state === "ok") {
        state = "warning";
        indicator = indicatorName(v("last_p2_slot"));
      }
      reasons.push(`${indicatorName(v("last_p2_slot"))} ${(p2Age / 1e6).toFixed(1)} s ago`);
    }
  }
  const isRtp = mode === "rtp" || mode === "rtp+ts";
  const isTs = mode === "ts" || mode === "rtp+ts";
  const pids: PidReport[] = [];
  for (let r = 0; r < v("ts_pids"); r++) {
    const at = PID_TABLE_BASE + r * PID_SLOTS;
    pids.push({
      pid: m[at + P.pid],
      kind: pidKind(m[at + P.pid], m[at + P.flags]),
      packets: m[at + P.packets],
      cc_errors: m[at + P.cc_errors],
      last_seen_s: m[at + P.last_us] > 0 ? +((nowUs - m[at + P.last_us]) / 1e6).toFixed(3) : -1,
    });
  }
  const clock = v("rtp_clock_rate") || 90000;
  return {
    rule,
    mode,
    state,
    reasons,
    indicator,
    packets: v("packets"),
    bytes: v("bytes"),
    packets_per_second: +rates.pps.toFixed(1),
    bits_per_second: Math.round(rates.bps),
    last_packet_ms: Math.round(v("last_us") / 1000),
    interarrival_ms: v("iat_count") > 0
      ? {
        min: ms(v("iat_min_us")),
        mean: ms(v("iat_sum_us") / v("iat_count")),
        max: ms(v("iat_max_us")),
        p99: ms(iatQuantileUs(m, 0.99)),
      }
      : null,
    rtp: isRtp
      ? {
        packets: v("rtp_packets"),
        invalid: v("rtp_invalid"),
        lost: v("rtp_lost") + v("rtp_pending_gaps"),
        lost_final: v("rtp_lost"),
        duplicates: v("rtp_duplicates"),
        reordered: v("rtp_reordered"),
        restarts: v("rtp_restarts"),
        ssrc_changes: v("rtp_ssrc_changes"),
        ssrc: v("rtp_ssrc"),
        payload_type: v("rtp_payload_type"),
        clock_rate: clock,
        jitter: +v("rtp_jitter").toFixed(3),
        jitter_ms: +(v("rtp_jitter") / clock * 1000).toFixed(4),
        jitter_max_ms: +(v("rtp_jitter_max") / clock * 1000).toFixed(4),
      }
      : null,
    ts: isTs
      ? {
        packets: v("ts_packets"),
        packet_size: v("ts_packet_size"),
        sync_loss: v("ts_sync_loss"),
        sync_byte_error: v("ts_sync_byte_error"),
        pat_error: v("ts_pat_error"),
        cc_error: v("ts_cc_error"),
        pmt_error: v("ts_pmt_error"),
        pid_error: v("ts_pid_error"),
        transport_error: v("ts_transport_error"),
        crc_error: v("ts_crc_error"),
        pcr_repetition_error: v("ts_pcr_repetition_error"),
        pcr_discontinuity_error: v("ts_pcr_discontinuity_error"),
        pts_error: v("ts_pts_error"),
        cat_error: v("ts_cat_error"),
        null_packets: v("ts_null_packets"),
        invalid: v("ts_invalid"),
        pcr_interval_max_ms: ms(v("ts_pcr_interval_max_us")),
        pcr_drift_ppm: v("ts_pcr_drift_ppm"),
        pids,
      }
      : null,
  };
}

/**
 * The value a Prometheus family of STREAM_SLOTS takes for a report, in the
 * family's base unit (seconds for times); undefined when the stream's mode
 * has no such figure.
 */
export function metricValue(report: StreamReport, slot: StreamSlotName): number | undefined {
  if (slot === "packets") return report.packets;
  if (slot === "bytes") return report.bytes;
  if (slot === "last_us") return report.last_packet_ms / 1000;
  const iat = report.interarrival_ms;
  if (slot === "iat_min_us") return iat ? iat.min / 1000 : undefined;
  if (slot === "iat_max_us") return iat ? iat.max / 1000 : undefined;
  if (slot.startsWith("rtp_")) {
    if (!report.rtp) return undefined;
    if (slot === "rtp_lost") return report.rtp.lost_final; // a counter: only what is final
    if (slot === "rtp_jitter") return report.rtp.jitter_ms / 1000;
    return report.rtp[slot.slice(4)];
  }
  if (slot.startsWith("ts_")) {
    if (!report.ts) return undefined;
    if (slot === "ts_pcr_interval_max_us") return (report.ts.pcr_interval_max_ms as number) / 1000;
    const v = report.ts[slot.slice(3)];
    return typeof v === "number" ? v : undefined;
  }
  return undefined;
}

/** Stream state as a number for a gauge: 0 ok, 1 warning, 2 critical. */
export const STATE_VALUE: Record<StreamState, number> = { ok: 0, warning: 1, critical: 2 };
