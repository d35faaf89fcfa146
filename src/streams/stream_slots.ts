/**
 * Every figure the stream inspector keeps for one inspected stream, declared
 * once: its slot in the stream's block (a Float64 block in a worker's
 * SharedArrayBuffer, one writer: the worker the stream's packets reach), its
 * help text and, for what is exported, its Prometheus family. State slots
 * (kind "state") are the inspector's working memory and are not exported.
 *
 * After the STREAM_SLOTS figures come MAX_PIDS rows of PID_SLOTS each: the
 * MPEG-TS PIDs seen, in the order first seen.
 */

export interface StreamSlotSpec {
  readonly name: string;
  readonly help: string;
  /** counter: cumulative (Prometheus _total); gauge: a current value; state: not exported. */
  readonly kind: "counter" | "gauge" | "state";
  /** Prometheus family (counters and gauges). */
  readonly family?: string;
  /** Factor from the slot's value to the family's base unit (µs to seconds: 1e-6). */
  readonly scale?: number;
  /** ETSI TR 101 290 indicator this counts (e.g. "1.4"). */
  readonly tr101290?: string;
}

/** Inter-arrival time histogram bounds (µs); a last bucket takes the rest. */
export const IAT_BUCKETS_US = [
  100,
  250,
  500,
  1_000,
  2_000,
  5_000,
  10_000,
  20_000,
  50_000,
  100_000,
  500_000,
] as const;

export const STREAM_SLOTS = [
  // ---- every inspected stream: timing (kernel receive times from the RX ring) ----
  {
    name: "packets",
    kind: "counter",
    family: "mcr_stream_packets_total",
    help: "Datagrams inspected",
  },
  {
    name: "bytes",
    kind: "counter",
    family: "mcr_stream_bytes_total",
    help: "UDP payload bytes inspected",
  },
  {
    name: "first_us",
    kind: "state",
    help: "Kernel receive time of the first datagram (µs since the epoch)",
  },
  {
    name: "last_us",
    kind: "gauge",
    family: "mcr_stream_last_packet_timestamp_seconds",
    scale: 1e-6,
    help: "Kernel receive time of the last datagram",
  },
  {
    name: "iat_min_us",
    kind: "gauge",
    family: "mcr_stream_interarrival_min_seconds",
    scale: 1e-6,
    help: "Shortest time between two datagrams, since the stream was first seen",
  },
  {
    name: "iat_max_us",
    kind: "gauge",
    family: "mcr_stream_interarrival_max_seconds",
    scale: 1e-6,
    help: "Longest time between two datagrams, since the stream was first seen",
  },
  { name: "iat_sum_us", kind: "state", help: "Sum of the inter-arrival times (µs)" },
  { name: "iat_count", kind: "state", help: "Inter-arrival times measured" },
  // ---- RTP (RFC 3550) ----
  {
    name: "rtp_packets",
    kind: "counter",
    family: "mcr_stream_rtp_packets_total",
    help: "Valid RTP packets",
  },
  {
    name: "rtp_invalid",
    kind: "counter",
    family: "mcr_stream_rtp_invalid_total",
    help:
      "Datagrams that are not valid RTP (version, lengths, padding, CSRC or extension past the end)",
  },
  {
    name: "rtp_lost",
    kind: "counter",
    family: "mcr_stream_rtp_lost_total",
    help:
      "Sequence numbers never received, counted once they fall 100 behind the highest one (RFC 3550 A.1 MAX_MISORDER); sender restarts excluded",
  },
  {
    name: "rtp_pending_gaps",
    kind: "gauge",
    help:
      "Sequence numbers missing within the last 100 (not yet counted as lost: they may still come)",
  },
  {
    name: "rtp_duplicates",
    kind: "counter",
    family: "mcr_stream_rtp_duplicates_total",
    help: "Packets whose sequence number was already received",
  },
  {
    name: "rtp_reordered",
    kind: "counter",
    family: "mcr_stream_rtp_reordered_total",
    help: "Packets that arrived after a higher sequence number (filling a gap)",
  },
  {
    name: "rtp_restarts",
    kind: "counter",
    family: "mcr_stream_rtp_restarts_total",
    help:
      "Sequence restarts: a jump beyond MAX_DROPOUT or MAX_MISORDER confirmed by the next packet (RFC 3550 A.1)",
  },
  {
    name: "rtp_ssrc_changes",
    kind: "counter",
    family: "mcr_stream_rtp_ssrc_changes_total",
    help: "Changes of the sender's SSRC",
  },
  { name: "rtp_ssrc", kind: "gauge", help: "The current SSRC" },
  { name: "rtp_payload_type", kind: "gauge", help: "The current payload type" },
  { name: "rtp_clock_rate", kind: "gauge", help: "The RTP clock rate used for jitter (Hz)" },
  {
    name: "rtp_jitter",
    kind: "gauge",
    family: "mcr_stream_rtp_jitter_seconds",
    help:
      "Interarrival jitter (RFC 3550 6.4.1), in RTP timestamp units in JSON, seconds in Prometheus",
  },
  {
    name: "rtp_jitter_max",
    kind: "gauge",
    help: "Largest interarrival jitter seen (timestamp units)",
  },
  { name: "rtp_max_seq", kind: "state", help: "Extended highest sequence number received" },
  {
    name: "rtp_base_seq",
    kind: "state",
    help: "Extended first sequence number of the current run",
  },
  { name: "rtp_bad_seq", kind: "state", help: "Expected next sequence number after a jump (A.1)" },
  {
    name: "rtp_received",
    kind: "state",
    help: "Distinct sequence numbers received in the current run",
  },
  {
    name: "rtp_transit",
    kind: "state",
    help: "Relative transit time of the last packet (timestamp units)",
  },
  { name: "rtp_started", kind: "state", help: "1 once a sequence run started" },
  { name: "rtp_last_loss_us", kind: "state", help: "When the last loss was counted (µs)" },
  // ---- MPEG-TS (ETSI TR 101 290) ----
  {
    name: "ts_packets",
    kind: "counter",
    family: "mcr_stream_ts_packets_total",
    help: "TS packets inspected",
  },
  {
    name: "ts_sync_loss",
    kind: "counter",
    family: "mcr_stream_ts_sync_loss_total",
    tr101290: "1.1",
    help:
      "TS_sync_loss: synchronisation lost (2 consecutive bad sync bytes; regained after 5 good ones)",
  },
  {
    name: "ts_sync_byte_error",
    kind: "counter",
    family: "mcr_stream_ts_sync_byte_errors_total",
    tr101290: "1.2",
    help: "Sync_byte_error: a packet whose sync byte is not 0x47 while synchronised",
  },
  {
    name: "ts_pat_error",
    kind: "counter",
    family: "mcr_stream_ts_pat_errors_total",
    tr101290: "1.3",
    help:
      "PAT_error(_2): no PAT for 500 ms, a section on PID 0 that is not a PAT, or a scrambled PAT",
  },
  {
    name: "ts_cc_error",
    kind: "counter",
    family: "mcr_stream_ts_cc_errors_total",
    tr101290: "1.4",
    help:
      "Continuity_count_error: a packet with payload out of order, lost, or repeated more than once (null PID exempt, discontinuity_indicator honoured)",
  },
  {
    name: "ts_pmt_error",
    kind: "counter",
    family: "mcr_stream_ts_pmt_errors_total",
    tr101290: "1.5",
    help: "PMT_error(_2): a PMT PID of the PAT without a PMT for 500 ms, or a scrambled PMT",
  },
  {
    name: "ts_pid_error",
    kind: "counter",
    family: "mcr_stream_ts_pid_errors_total",
    tr101290: "1.6",
    help: "PID_error: a PID the PMT refers to absent for the configured period (default 5 s)",
  },
  {
    name: "ts_transport_error",
    kind: "counter",
    family: "mcr_stream_ts_transport_errors_total",
    tr101290: "2.1",
    help: "Transport_error: packets with transport_error_indicator set",
  },
  {
    name: "ts_crc_error",
    kind: "counter",
    family: "mcr_stream_ts_crc_errors_total",
    tr101290: "2.2",
    help: "CRC_error: a PAT, PMT or CAT section whose CRC32 is wrong",
  },
  {
    name: "ts_pcr_repetition_error",
    kind: "counter",
    family: "mcr_stream_ts_pcr_repetition_errors_total",
    tr101290: "2.3a",
    help:
      "PCR_repetition_error: more than the configured interval (100 ms, or 40 ms) between two PCRs",
  },
  {
    name: "ts_pcr_discontinuity_error",
    kind: "counter",
    family: "mcr_stream_ts_pcr_discontinuity_errors_total",
    tr101290: "2.3b",
    help:
      "PCR_discontinuity_indicator_error: two consecutive PCR values more than 100 ms apart, or going back, without a discontinuity_indicator",
  },
  {
    name: "ts_pts_error",
    kind: "counter",
    family: "mcr_stream_ts_pts_errors_total",
    tr101290: "2.5",
    help: "PTS_error: more than 700 ms between two PTS of one elementary stream",
  },
  {
    name: "ts_cat_error",
    kind: "counter",
    family: "mcr_stream_ts_cat_errors_total",
    tr101290: "2.6",
    help:
      "CAT_error: scrambled packets without a CAT (counted once a second), or a section on PID 1 that is not a CAT",
  },
  {
    name: "ts_null_packets",
    kind: "counter",
    family: "mcr_stream_ts_null_packets_total",
    help: "Null packets (PID 0x1FFF)",
  },
  {
    name: "ts_invalid",
    kind: "counter",
    family: "mcr_stream_ts_invalid_total",
    help:
      "Datagrams whose payload is not whole TS packets, or packets whose adaptation field overruns the packet",
  },
  {
    name: "ts_packet_size",
    kind: "gauge",
    help: "TS packet size: 188 or 204 (0 before the first)",
  },
  {
    name: "ts_pcr_interval_max_us",
    kind: "gauge",
    family: "mcr_stream_ts_pcr_interval_max_seconds",
    scale: 1e-6,
    help:
      "Longest time between two PCRs (information; not TR 101 290 2.4, which needs hardware-grade arrival times)",
  },
  {
    name: "ts_pcr_drift_ppm",
    kind: "gauge",
    help:
      "PCR clock against arrival times since the first PCR, parts per million (information only)",
  },
  { name: "ts_sync_state", kind: "state", help: "1 while synchronised" },
  { name: "ts_sync_good", kind: "state", help: "Consecutive good sync bytes" },
  { name: "ts_sync_bad", kind: "state", help: "Consecutive bad sync bytes" },
  { name: "ts_pat_last_us", kind: "state", help: "Arrival of the last PAT (µs)" },
  { name: "ts_pat_late", kind: "state", help: "1 once the current PAT gap was counted" },
  { name: "ts_cat_seen", kind: "state", help: "1 once a CAT was seen" },
  {
    name: "ts_scramble_counted_us",
    kind: "state",
    help: "When scrambling without a CAT was last counted",
  },
  {
    name: "ts_next_check_us",
    kind: "state",
    help: "When the periodic checks (PAT, PMT, PID) run next",
  },
  { name: "ts_pcr_first", kind: "state", help: "First PCR (27 MHz)" },
  { name: "ts_pcr_first_us", kind: "state", help: "Its arrival (µs)" },
  { name: "ts_pids", kind: "gauge", help: "PIDs seen (rows used in the PID table)" },
  // ---- health inputs: when the last error of each class happened, and which ----
  {
    name: "last_p1_us",
    kind: "state",
    help: "When the last TR 101 290 priority 1 error was counted (µs)",
  },
  { name: "last_p1_slot", kind: "state", help: "Which counter it was (slot index)" },
  {
    name: "last_p2_us",
    kind: "state",
    help: "When the last TR 101 290 priority 2 error was counted (µs)",
  },
  { name: "last_p2_slot", kind: "state", help: "Which counter it was (slot index)" },
  { name: "epoch", kind: "state", help: "The settings epoch the block was written under" },
] as const satisfies readonly StreamSlotSpec[];

export type StreamSlotName = typeof STREAM_SLOTS[number]["name"];

/** Slot index of every figure, by name (a misspelt name fails type checking). */
export const S: Readonly<Record<StreamSlotName, number>> = Object.freeze(
  Object.fromEntries(STREAM_SLOTS.map((c, i) => [c.name, i])),
) as Record<StreamSlotName, number>;

/** First slot of the inter-arrival histogram: bucket i at IAT_SLOT_BASE + i (i = length: above the last bound). */
export const IAT_SLOT_BASE = STREAM_SLOTS.length;

/** One MPEG-TS PID's row. */
export const PID_COLUMNS = [
  "pid",
  "packets",
  "cc_errors",
  "last_cc",
  "dup_seen",
  "last_us",
  "flags",
  "last_pcr",
  "last_pcr_us",
  "last_pts_us",
  "missing",
] as const;
export type PidColumn = typeof PID_COLUMNS[number];
export const P: Readonly<Record<PidColumn, number>> = Object.freeze(
  Object.fromEntries(PID_COLUMNS.map((c, i) => [c, i])),
) as Record<PidColumn, number>;
export const PID_SLOTS = PID_COLUMNS.length;
/** PID row flags. */
export const PID_REFERENCED = 1; // an elementary stream of the PMT (1.6 applies)
export const PID_IS_PMT = 2; // a PMT PID of the PAT (1.5 applies)
export const PID_IS_PCR = 4; // the program's PCR PID
/** PIDs tracked per stream (a single-program stream has a handful; an MPTS more: the rest are counted, not listed). */
export const MAX_PIDS = 64;
export const PID_TABLE_BASE = IAT_SLOT_BASE + IAT_BUCKETS_US.length + 1;

/** Float64 slots of one stream's block (rounded to 64-byte lines). */
export const STREAM_BLOCK_SLOTS = Math.ceil((PID_TABLE_BASE + MAX_PIDS * PID_SLOTS) / 8) * 8;
/** Inspected streams one relay can keep (each worker holds a block per stream slot). */
export const MAX_STREAMS = 256;

/** The TR 101 290 priority-1 and priority-2 counters, by slot. */
export const P1_SLOTS: readonly number[] = STREAM_SLOTS.flatMap((c, i) =>
  "tr101290" in c && c.tr101290.startsWith("1.") ? [i] : []
);
export const P2_SLOTS: readonly number[] = STREAM_SLOTS.flatMap((c, i) =>
  "tr101290" in c && c.tr101290.startsWith("2.") ? [i] : []
);
