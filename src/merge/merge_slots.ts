/**
 * Every figure a merge keeps, declared once: its slot in the pair's block,
 * its help text and, for what is exported, its Prometheus family. A pair's
 * block is one SharedArrayBuffer, made by the supervisor and handed to the
 * worker that merges the pair in its plan; it outlives that worker (a
 * restarted worker, or the next one after a ring succession, continues the
 * same merge), and the supervisor reads the figures from it.
 *
 * Layout: CONTROL_WORDS Int32 words (written by the supervisor: the manual
 * lock), then the pair's figures, MAX_LEGS rows of leg figures and a switch
 * log (Float64), then the window table of `tableSize` entries: two Float64
 * columns (tags, first), one Int32 column (info) and, for a hash merge,
 * MAX_LEGS Int32 occurrence counts per entry.
 */
import { MAX_LEGS } from "../config/merge_schema.ts";

export interface MergeSlotSpec {
  readonly name: string;
  readonly help: string;
  /** counter: cumulative (Prometheus _total); gauge: a current value; state: not exported. */
  readonly kind: "counter" | "gauge" | "state";
  /** Prometheus family (counters and gauges). */
  readonly family?: string;
  /** Factor from the slot's value to the family's base unit (µs to seconds: 1e-6). */
  readonly scale?: number;
}

/** Figures of the pair (the merged stream). */
export const PAIR_SLOTS = [
  {
    name: "forwarded",
    kind: "counter",
    family: "mcr_merge_forwarded_total",
    help: "Datagrams sent: the first copy of each",
  },
  {
    name: "duplicates",
    kind: "counter",
    family: "mcr_merge_duplicates_total",
    help: "Later copies dropped (their datagram was already sent)",
  },
  {
    name: "late",
    kind: "counter",
    family: "mcr_merge_late_total",
    help: "Copies that came after their window had closed (dropped)",
  },
  {
    name: "lost",
    kind: "counter",
    family: "mcr_merge_lost_total",
    help:
      "Sequence numbers no leg brought within the window: unrecoverable gaps in what was sent (counted when the window closes)",
  },
  {
    name: "lost_single",
    kind: "counter",
    family: "mcr_merge_lost_single_leg_total",
    help: "Sequence numbers lost on exactly one leg (repaired when another brought them)",
  },
  {
    name: "lost_multi",
    kind: "counter",
    family: "mcr_merge_lost_multi_leg_total",
    help: "Sequence numbers lost on two legs or more (common-mode loss: the legs share a fault)",
  },
  {
    name: "rejected",
    kind: "counter",
    family: "mcr_merge_rejected_total",
    help:
      "Datagrams refused: no key (too short, not RTP), another SSRC, or a sequence number far outside the window that did not prove a restart",
  },
  {
    name: "resyncs",
    kind: "counter",
    family: "mcr_merge_resyncs_total",
    help:
      "Sender restarts followed: a new SSRC or a sequence jump confirmed by consecutive packets",
  },
  {
    name: "window_overflows",
    kind: "counter",
    family: "mcr_merge_window_overflows_total",
    help:
      "Sequence numbers judged before their window closed because the table was full (the rate is above the one it was sized for)",
  },
  {
    name: "switches",
    kind: "counter",
    family: "mcr_merge_switches_total",
    help: "Failover: choices of the active leg (the first one included)",
  },
  {
    name: "active_leg",
    kind: "gauge",
    family: "mcr_merge_active_leg",
    help: "Failover: the leg being sent (-1 before the first packet)",
  },
  { name: "started", kind: "state", help: "1 once the first datagram set the sequence" },
  { name: "max_ext", kind: "state", help: "Highest extended sequence number sent" },
  { name: "cursor", kind: "state", help: "Next extended sequence number to judge" },
  { name: "hint", kind: "state", help: "First claimed number after an unclaimed cursor (0: none)" },
  { name: "last_claim_us", kind: "state", help: "When a datagram was last sent (µs)" },
  {
    name: "advanced_us",
    kind: "state",
    help: "When the highest sequence number last moved on (µs)",
  },
  {
    name: "interval_us",
    kind: "state",
    help: "Mean time per sequence number as the highest one moves on (µs; 0 before it is known)",
  },
  { name: "ssrc", kind: "state", help: "The SSRC binding the legs (RTP)" },
  { name: "heartbeat_seq", kind: "state", help: "Sequence number of the last heartbeat sent" },
  { name: "heartbeat_us", kind: "state", help: "When it was sent (µs)" },
  { name: "last_switch_us", kind: "state", help: "Failover: when the active leg last changed" },
  { name: "lock_seen", kind: "state", help: "Failover: the lock last acted on (-1 none)" },
] as const satisfies readonly MergeSlotSpec[];

/** Figures of each leg. */
export const LEG_SLOTS = [
  {
    name: "packets",
    kind: "counter",
    family: "mcr_merge_leg_packets_total",
    help: "Datagrams received on the leg",
  },
  {
    name: "bytes",
    kind: "counter",
    family: "mcr_merge_leg_bytes_total",
    help: "UDP payload bytes received on the leg",
  },
  {
    name: "first",
    kind: "counter",
    family: "mcr_merge_leg_first_total",
    help: "Datagrams this leg brought first (sent from it)",
  },
  {
    name: "duplicates",
    kind: "counter",
    family: "mcr_merge_leg_duplicates_total",
    help: "Copies from this leg dropped because another leg's came first",
  },
  {
    name: "late",
    kind: "counter",
    family: "mcr_merge_leg_late_total",
    help: "Copies from this leg that came after the window closed",
  },
  {
    name: "lost",
    kind: "counter",
    family: "mcr_merge_leg_lost_total",
    help: "Sequence numbers this leg did not bring within the window",
  },
  {
    name: "recovered",
    kind: "counter",
    family: "mcr_merge_leg_recovered_total",
    help: "Of those, the ones another leg brought (repaired)",
  },
  {
    name: "rejected",
    kind: "counter",
    family: "mcr_merge_leg_rejected_total",
    help: "Datagrams of this leg refused (no key, another SSRC, far outside the window)",
  },
  {
    name: "last_us",
    kind: "gauge",
    family: "mcr_merge_leg_last_packet_timestamp_seconds",
    scale: 1e-6,
    help: "Kernel receive time of the leg's last datagram",
  },
  {
    name: "pd_us",
    kind: "gauge",
    family: "mcr_merge_leg_path_differential_seconds",
    scale: 1e-6,
    help:
      "Path differential: how long after the first copy this leg's last copy came (0: it was first)",
  },
  {
    name: "pd_max_us",
    kind: "gauge",
    family: "mcr_merge_leg_path_differential_max_seconds",
    scale: 1e-6,
    help: "The largest path differential seen on this leg",
  },
  { name: "seq", kind: "state", help: "The leg's last sequence number (raw)" },
  {
    name: "ext",
    kind: "state",
    help: "The leg's last accepted extended number (-1: none since a restart)",
  },
  { name: "accepted_us", kind: "state", help: "When it was accepted (µs)" },
  {
    name: "candidate",
    kind: "state",
    help: "A restart candidate: the sequence number expected next",
  },
  { name: "candidate_ssrc", kind: "state", help: "The SSRC of the restart candidate" },
  { name: "candidate_count", kind: "state", help: "Consecutive packets of the candidate" },
  { name: "up_since_us", kind: "state", help: "Failover: when the leg last resumed after silence" },
  { name: "last_loss_us", kind: "state", help: "Failover: when the leg last lost a packet" },
  { name: "next", kind: "state", help: "Failover: the leg's next expected sequence number" },
] as const satisfies readonly MergeSlotSpec[];

export type PairSlotName = typeof PAIR_SLOTS[number]["name"];
export type LegSlotName = typeof LEG_SLOTS[number]["name"];

/** Slot of every pair figure, by name (a misspelt name fails type checking). */
export const M: Readonly<Record<PairSlotName, number>> = Object.freeze(
  Object.fromEntries(PAIR_SLOTS.map((c, i) => [c.name, i])),
) as Record<PairSlotName, number>;

/** Offset of every leg figure in its row, by name. */
export const L: Readonly<Record<LegSlotName, number>> = Object.freeze(
  Object.fromEntries(LEG_SLOTS.map((c, i) => [c.name, i])),
) as Record<LegSlotName, number>;

export { MAX_LEGS };
/** Int32 control words before the figures: [0] the manual lock (-1: none). */
export const CONTROL_WORDS = 4;
export const CONTROL_LOCK = 0;
/** Float64 slots of the pair's figures (rounded up to 8). */
export const PAIR_FIGURES = Math.ceil(PAIR_SLOTS.length / 8) * 8;
export const LEG_FIGURES = Math.ceil(LEG_SLOTS.length / 8) * 8;
/** The first slot of leg i's row is LEG_BASE + i * LEG_FIGURES. */
export const LEG_BASE = PAIR_FIGURES;
/** Switch log: the last SWITCH_LOG changes of the active leg (at_us, from, to, reason), a ring. */
export const SWITCH_LOG = 16;
export const SWITCH_BASE = LEG_BASE + MAX_LEGS * LEG_FIGURES;
export const SWITCH_COLUMNS = 4;
/** Why the active leg changed (switch log `reason`). */
export const SWITCH_REASONS = ["start", "silence", "loss", "revert", "lock"] as const;
export type SwitchReason = typeof SWITCH_REASONS[number];
/** Float64 slots before the window table. */
export const FIGURES = SWITCH_BASE + SWITCH_LOG * SWITCH_COLUMNS;

/** Bytes of a pair's block with a window table of `tableSize` entries (`hash`: with occurrence counts). */
export function blockBytes(tableSize: number, hash: boolean): number {
  return CONTROL_WORDS * 4 + FIGURES * 8 + tableSize * (8 + 8 + 4) +
    (hash ? tableSize * MAX_LEGS * 4 : 0);
}

/** The views a merge reads and writes, over one block. */
export interface BlockViews {
  control: Int32Array;
  /** Pair figures, leg rows, switch log. */
  figures: Float64Array;
  /** Window table: the sequence number (or hash) held by each entry (-1: empty). */
  tags: Float64Array;
  /** When its first copy came (µs). */
  first: Float64Array;
  /** Sequence merge: bits 0-7 the legs that brought it, bits 8-31 the numbers it covers; hash merge: occurrences sent. */
  info: Int32Array;
  /** Hash merge: entry i's occurrences on leg l at i * MAX_LEGS + l (null for the others). */
  counts: Int32Array | null;
}

/** Views over a block made for `tableSize` entries. */
export function blockViews(block: SharedArrayBuffer, tableSize: number): BlockViews {
  let at = 0;
  const control = new Int32Array(block, at, CONTROL_WORDS);
  at += CONTROL_WORDS * 4;
  const figures = new Float64Array(block, at, FIGURES);
  at += FIGURES * 8;
  const tags = new Float64Array(block, at, tableSize);
  at += tableSize * 8;
  const first = new Float64Array(block, at, tableSize);
  at += tableSize * 8;
  const info = new Int32Array(block, at, tableSize);
  at += tableSize * 4;
  const counts = block.byteLength >= at + tableSize * MAX_LEGS * 4
    ? new Int32Array(block, at, tableSize * MAX_LEGS)
    : null;
  return { control, figures, tags, first, info, counts };
}

/** A new block: the lock off, the active leg unknown, every table entry empty. */
export function newBlock(tableSize: number, hash: boolean): SharedArrayBuffer {
  const block = new SharedArrayBuffer(blockBytes(tableSize, hash));
  const v = blockViews(block, tableSize);
  v.control[CONTROL_LOCK] = -1;
  v.figures[M.active_leg] = -1;
  v.figures[M.lock_seen] = -1;
  for (let l = 0; l < MAX_LEGS; l++) v.figures[LEG_BASE + l * LEG_FIGURES + L.next] = -1;
  v.tags.fill(-1);
  return block;
}
