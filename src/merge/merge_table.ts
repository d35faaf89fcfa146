/**
 * How big a merge's window table is: room for every datagram its window
 * holds at the rule's rate (declared rate_pps, else DEFAULT_MERGE_RATE_PPS),
 * with headroom, as a power of two. A 16-bit sequence number caps it at
 * 32,768 (the schema refuses windows it cannot tell apart); a hash table is
 * kept at most half full.
 */
import { mergeWindowPackets, type Rule } from "../config/schema.ts";

export const MIN_TABLE = 1024;
export const MAX_TABLE = 1 << 20;

export function tableSize(rule: Rule): number {
  const m = rule.merge!;
  // Resequencing holds each datagram delay_ms: that is its window.
  const ms = m.mode === "resequence" ? m.delay_ms ?? 50 : m.window_ms ?? 450;
  const window = mergeWindowPackets(ms, rule.rate_pps);
  const key = m.key ?? "rtp";
  const wanted = key === "hash" ? window * 2 : Math.ceil(window * 1.25);
  let size = MIN_TABLE;
  while (size < wanted && size < MAX_TABLE) size *= 2;
  const sixteen = key === "rtp" || (typeof key === "object" && key.sequence.width === 2);
  return sixteen ? Math.min(size, 32_768) : size;
}
