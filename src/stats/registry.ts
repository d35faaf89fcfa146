/**
 * Every counter mcr keeps, declared once. Worker counter slots, JSON stats
 * keys and Prometheus lines all derive from these tables.
 *
 * Counters live in SharedArrayBuffers as Float64 slots: each slot has exactly
 * one writer (a worker) and the supervisor reads them. Float64 loads and
 * stores are single 8-byte moves on x86-64, so a reader never sees a torn
 * value; integers stay exact up to 2^53.
 */

import { MAX_OUTPUTS, MAX_RULES } from "../config/limits.ts";

/** One counter: its name (snake_case, JSON key), help text, and Prometheus family. */
export interface CounterSpec {
  readonly name: string;
  readonly help: string;
  /** Prometheus metric family; counters sharing a family differ by `reason` label. */
  readonly family: string;
  /** Label value for families with a reason label. */
  readonly reason?: string;
  /** "gauge" values are not cumulative (e.g. last errno). */
  readonly kind?: "counter" | "gauge";
  /** Factor from the slot's value to the family's base unit (e.g. 0.001: ms to seconds). */
  readonly scale?: number;
}

/**
 * Why a received frame was not forwarded. A reason's id is its position + 1
 * (DROP below): what parse and match return negated, and what indexes its
 * counter slot (DROP_SLOT_BASE + id - 1). New reasons go at the end.
 */
export const DROP_REASONS = [
  { name: "truncated", help: "frame shorter than its headers or IP total length" },
  { name: "not_ip", help: "not an IPv4 or IPv6 frame (other ethertype or IP version)" },
  {
    name: "bad_header",
    help:
      "IP header invalid (IPv4: IHL < 5, bad header checksum; IPv6: extension header chain, zero UDP checksum; lengths inconsistent, UDP length lies)",
  },
  { name: "not_udp", help: "IP but not UDP" },
  { name: "fragment", help: "IP fragment on a rule that does not allow fragments" },
  {
    name: "no_match",
    help: "valid UDP but no rule matches interface, group, port and source",
  },
  { name: "ring_corrupt", help: "RX ring entry with impossible offsets or lengths" },
  {
    name: "ttl_expired",
    help: "TTL / hop limit of 1 or less, on a rule whose outputs decrement it (no `ttl` set)",
  },
  {
    name: "loop",
    help:
      "a datagram the rule relayed moments ago came back (forwarding loop; src/dataplane/loop_guard.ts)",
  },
] as const;

export type DropReasonName = typeof DROP_REASONS[number]["name"];

/** Slot index of every entry of a counter table, by name: misspelling a name fails type checking. */
function slotIndex<T extends readonly { readonly name: string }[]>(
  table: T,
  first = 0,
): Readonly<Record<T[number]["name"], number>> {
  return Object.freeze(
    Object.fromEntries(table.map((c, i) => [c.name, first + i])),
  ) as Record<T[number]["name"], number>;
}

/** Drop reason ids (1-based), by name: DROP.no_match. */
export const DROP = slotIndex(DROP_REASONS, 1);

/** Per-worker counters, in slot order. Drop reasons follow at DROP_SLOT_BASE. */
export const WORKER_COUNTERS = [
  { name: "rx_packets", family: "mcr_rx_packets_total", help: "Frames taken from RX rings" },
  { name: "rx_bytes", family: "mcr_rx_bytes_total", help: "Bytes of frames taken from RX rings" },
  { name: "matched", family: "mcr_matched_packets_total", help: "Frames that matched a rule" },
  {
    name: "tx_sent",
    family: "mcr_tx_packets_total",
    help: "Frames queued into TX rings plus datagrams routed outputs' sockets accepted",
  },
  {
    name: "tx_bytes",
    family: "mcr_tx_bytes_total",
    help: "Bytes queued into TX rings (frames) plus routed payload bytes",
  },
  {
    name: "tx_ring_full",
    family: "mcr_tx_ring_full_total",
    help:
      "Copies dropped because the output TX ring had no free frame, or a routed output's socket buffer was full (buffer exhaustion)",
  },
  {
    name: "tx_too_big",
    family: "mcr_tx_too_big_total",
    help:
      "Copies dropped because the rewritten frame is larger than the output's MTU (per copy, not per packet)",
  },
  {
    name: "tx_errors",
    family: "mcr_tx_errors_total",
    help:
      "TX frames the kernel rejected (TP_STATUS_WRONG_FORMAT), failed TX kicks, and routed datagrams the kernel refused",
  },
  {
    name: "kernel_packets",
    family: "mcr_kernel_packets_total",
    help: "Frames the kernel delivered to RX rings (PACKET_STATISTICS)",
  },
  {
    name: "kernel_drops",
    family: "mcr_kernel_drops_total",
    help: "Frames the kernel dropped because an RX ring was full (PACKET_STATISTICS)",
  },
  {
    name: "kernel_freezes",
    family: "mcr_kernel_freezes_total",
    help: "RX queue freezes reported by the kernel (PACKET_STATISTICS)",
  },
  {
    name: "rx_blocks",
    family: "mcr_rx_blocks_total",
    help: "RX batches processed: V3 blocks, or batches of V2 frames taken between two waits",
  },
  {
    name: "rx_gso_frames",
    family: "mcr_rx_gso_frames_total",
    help:
      "UDP GSO frames received (inputs with gso), each relayed as the datagrams it carried (rx_packets counts those)",
  },
  { name: "tx_kicks", family: "mcr_tx_kicks_total", help: "TX ring kicks completed" },
  { name: "tx_kick_errors", family: "mcr_tx_kick_errors_total", help: "TX ring kicks that failed" },
  {
    name: "tx_kicks_deferred",
    family: "mcr_tx_kicks_deferred_total",
    help: "TX kicks retried because the socket send buffer was full (frames stay queued; not loss)",
  },
  {
    name: "rx_socket_errors",
    family: "mcr_rx_socket_errors_total",
    help: "Errors cleared on RX ring sockets (e.g. link down)",
  },
  {
    name: "routed_batches",
    family: "mcr_routed_batches_total",
    help: "sendmmsg() calls made for routed outputs (one per batch)",
  },
  {
    name: "last_routed_errno",
    family: "mcr_last_routed_errno",
    help: "errno of the last routed send the kernel refused (0 if none)",
    kind: "gauge",
  },
  {
    name: "last_kick_errno",
    family: "mcr_last_kick_errno",
    help: "errno of the last failed TX kick (0 if none)",
    kind: "gauge",
  },
  {
    name: "loop_iterations",
    family: "mcr_loop_iterations_total",
    help: "Worker loop turns (heartbeat)",
  },
  {
    name: "loop_naps",
    family: "mcr_loop_naps_total",
    help:
      "Naps between batches (adaptive wake-ups: while packets come fast the loop sleeps up to ring.nap_us instead of being woken per packet)",
  },
  {
    name: "loop_nap_us",
    family: "mcr_loop_nap_seconds_total",
    scale: 1e-6,
    help:
      "Time the naps took, measured: each asks for the rest of ring.nap_us and sends the batch's TX kicks first; over loop_naps, the real period a napping packet may wait",
  },
  {
    name: "heartbeat_ms",
    family: "mcr_heartbeat_ms",
    help: "Worker clock at its last loop turn (ms since epoch)",
    kind: "gauge",
  },
  {
    name: "loop_stall_ms",
    family: "mcr_loop_stall_seconds",
    scale: 0.001,
    help:
      "Longest single turn of the worker's loop (one batch per input, its TX kick and publishing; the wait excluded), over the last second: garbage collection, descheduling, slow kicks",
    kind: "gauge",
  },
  {
    name: "loop_stall_max_ms",
    family: "mcr_loop_stall_max_seconds",
    scale: 0.001,
    help: "Longest single turn of the worker's loop since the worker started",
    kind: "gauge",
  },
] as const satisfies readonly CounterSpec[];

/** First slot of the drop-reason counters; slot = DROP_SLOT_BASE + id - 1. */
export const DROP_SLOT_BASE = WORKER_COUNTERS.length;
/**
 * Residence time of packets in the relay, per worker: from the kernel's
 * receive time in the RX ring to the TX kick of the batch that carried them
 * (frames mode). Upper bounds of the histogram buckets, microseconds; a
 * last bucket takes everything above. Slots: one per bucket, then the sum
 * (µs) and the count.
 */
export const RESIDENCE_BUCKETS_US = [
  10,
  25,
  50,
  100,
  250,
  500,
  1000,
  2500,
  5000,
  10000,
  50000,
  250000,
] as const;
/** First residence slot: bucket i at RESIDENCE_SLOT_BASE + i (i = length: above the last bound). */
export const RESIDENCE_SLOT_BASE = DROP_SLOT_BASE + DROP_REASONS.length;
export const RESIDENCE_SUM_SLOT = RESIDENCE_SLOT_BASE + RESIDENCE_BUCKETS_US.length + 1;
export const RESIDENCE_COUNT_SLOT = RESIDENCE_SUM_SLOT + 1;

/** Number of Float64 slots in one worker's counter block (rounded to 64-byte lines). */
export const WORKER_SLOTS = Math.ceil((RESIDENCE_COUNT_SLOT + 1) / 8) * 8;

/** Named slot indices of the worker block, for the data plane. */
export const W = slotIndex(WORKER_COUNTERS);
export type WorkerCounterName = typeof WORKER_COUNTERS[number]["name"];

/** Per-rule counters: slot = ruleSlot * RULE_SLOTS + index. */
export const RULE_COUNTERS = [
  { name: "packets", family: "mcr_rule_packets_total", help: "Frames matched by the rule" },
  { name: "bytes", family: "mcr_rule_bytes_total", help: "Bytes of frames matched by the rule" },
  {
    name: "dropped",
    family: "mcr_rule_dropped_total",
    help:
      "Frames of the rule's stream not relayed: TTL 1 while its outputs decrement it, a fragment it does not allow, or a loop (the reason: mcr_dropped_packets_total)",
  },
] as const satisfies readonly CounterSpec[];
export const RULE_SLOTS = RULE_COUNTERS.length;
/** Offsets inside one rule's counter block, by name. */
export const RULE = slotIndex(RULE_COUNTERS);

/** Per-output counters: slot = outputSlot * OUTPUT_SLOTS + index. */
export const OUTPUT_COUNTERS = [
  {
    name: "packets",
    family: "mcr_output_packets_total",
    help: "Frames queued for the output (routed: datagrams the socket accepted)",
  },
  {
    name: "bytes",
    family: "mcr_output_bytes_total",
    help: "Bytes queued for the output (routed: UDP payload bytes)",
  },
  {
    name: "ring_full",
    family: "mcr_output_ring_full_total",
    help: "Copies for the output dropped because its TX ring (routed: socket buffer) was full",
  },
  {
    name: "too_big",
    family: "mcr_output_too_big_total",
    help: "Copies for the output dropped as larger than its MTU",
  },
  {
    name: "errors",
    family: "mcr_output_errors_total",
    help: "Copies for a routed output the kernel refused (e.g. no route, port unreachable)",
  },
  {
    name: "ttl_expired",
    family: "mcr_output_ttl_expired_total",
    help: "Copies not sent because the output decrements the TTL and it arrived as 1 or less",
  },
] as const satisfies readonly CounterSpec[];
export const OUTPUT_SLOTS = OUTPUT_COUNTERS.length;
/** Offsets inside one output's counter block, by name. */
export const OUT = slotIndex(OUTPUT_COUNTERS);

/** Capacities of the per-worker rule/output counter blocks: the schema's limits, so a valid config always fits. */
export const MAX_RULE_SLOTS = MAX_RULES;
export const MAX_OUTPUT_SLOTS = MAX_OUTPUTS;

/** Names of worker counters that are gauges (not cumulative): no rate, no sum over workers. */
const GAUGES: ReadonlySet<string> = new Set(
  (WORKER_COUNTERS as readonly CounterSpec[]).filter((c) => c.kind === "gauge").map((c) => c.name),
);

/** Whether a worker counter is a gauge (heartbeat_ms, last_*_errno): derived from its declaration. */
export function isGauge(name: string): boolean {
  return GAUGES.has(name);
}

/**
 * Routing-protocol counters (IGMP, PIM, MSDP), kept by the supervisor's
 * protocol speakers (src/supervisor/routing.ts). "invalid" counts packets
 * that failed a check (truncated, bad checksum, bad lengths, unknown type)
 * and were dropped.
 */
export const PROTOCOL_COUNTERS = [
  {
    name: "igmp_received",
    family: "mcr_igmp_received_total",
    help: "Valid IGMP messages received on igmp interfaces",
  },
  {
    name: "igmp_sent",
    family: "mcr_igmp_sent_total",
    help: "IGMP queries sent (general and group-specific)",
  },
  {
    name: "igmp_invalid",
    family: "mcr_igmp_invalid_total",
    help: "IGMP packets dropped as invalid (IP header, length, checksum, type)",
  },
  {
    name: "igmp_groups_learned",
    family: "mcr_igmp_groups_learned_total",
    help: "Times a group became present on an igmp or mld interface",
  },
  {
    name: "igmp_groups_refused",
    family: "mcr_igmp_groups_refused_total",
    help:
      "Reports for a new group refused because igmp.max_groups groups are tracked on the interface",
  },
  {
    name: "igmp_overrun",
    family: "mcr_igmp_overrun_total",
    help:
      "IGMP packets the kernel dropped because mcr's protocol socket buffer was full (read too slowly, e.g. under a flood)",
  },
  {
    name: "mld_received",
    family: "mcr_mld_received_total",
    help: "Valid MLD messages received on mld interfaces",
  },
  {
    name: "mld_sent",
    family: "mcr_mld_sent_total",
    help: "MLD queries sent (general and address-specific)",
  },
  {
    name: "mld_invalid",
    family: "mcr_mld_invalid_total",
    help:
      "MLD packets dropped as invalid (IPv6 header, hop-by-hop options, length, ICMPv6 checksum, type)",
  },
  {
    name: "mld_groups_refused",
    family: "mcr_mld_groups_refused_total",
    help:
      "Reports for a new group refused because mld.max_groups groups are tracked on the interface",
  },
  {
    name: "mld_overrun",
    family: "mcr_mld_overrun_total",
    help: "MLD packets the kernel dropped because mcr's protocol socket buffer was full",
  },
  {
    name: "pim_received",
    family: "mcr_pim_received_total",
    help: "Valid PIM messages received on pim interfaces",
  },
  { name: "pim_sent", family: "mcr_pim_sent_total", help: "PIM Hellos sent" },
  {
    name: "pim_invalid",
    family: "mcr_pim_invalid_total",
    help: "PIM packets dropped as invalid (IP header, version, checksum, lengths, options)",
  },
  {
    name: "pim_ignored",
    family: "mcr_pim_ignored_total",
    help:
      "PIM messages or entries not acted on: types not implemented (Register, Assert, Bootstrap...), Join/Prunes for another upstream or from a non-neighbour, (S,G,rpt) entries, (*,G) for an RP that is not this router's",
  },
  {
    name: "pim_overrun",
    family: "mcr_pim_overrun_total",
    help: "PIM packets the kernel dropped because mcr's protocol socket buffer was full",
  },
  {
    name: "pim_joins",
    family: "mcr_pim_joins_total",
    help: "Join entries accepted (new routes and refreshes)",
  },
  { name: "pim_prunes", family: "mcr_pim_prunes_total", help: "Prune entries received" },
  {
    name: "pim_routes_refused",
    family: "mcr_pim_routes_refused_total",
    help: "Joins refused because pim.max_learned_routes routes are held",
  },
  {
    name: "pim_registers_sent",
    family: "mcr_pim_registers_sent_total",
    help: "PIM Null-Registers sent to RPs for relayed sources",
  },
  {
    name: "pim_register_stops",
    family: "mcr_pim_register_stops_total",
    help: "Register-Stops received from the RP of a registered (S,G)",
  },
  { name: "msdp_received", family: "mcr_msdp_received_total", help: "MSDP messages received" },
  {
    name: "msdp_sent",
    family: "mcr_msdp_sent_total",
    help: "MSDP messages sent (keepalives and SAs)",
  },
  {
    name: "msdp_invalid",
    family: "mcr_msdp_invalid_total",
    help: "MSDP messages that could not be framed or parsed (the session is closed)",
  },
  {
    name: "msdp_established",
    family: "mcr_msdp_sessions_established_total",
    help: "Times an MSDP session came up",
  },
  {
    name: "msdp_sa_refused",
    family: "mcr_msdp_sa_refused_total",
    help: "SA entries not cached because msdp.max_sa entries are held",
  },
  {
    name: "msdp_refused",
    family: "mcr_msdp_connections_refused_total",
    help:
      "TCP connections to port 639 from an address that is not a configured peer, or while its session is up",
  },
] as const satisfies readonly CounterSpec[];

export type ProtocolCounterName = typeof PROTOCOL_COUNTERS[number]["name"];
