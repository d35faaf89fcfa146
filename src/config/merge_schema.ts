/**
 * A merge rule's schema (part of src/config/schema.ts): the same stream
 * received on two or more legs (SMPTE ST 2022-7 "red" and "blue", market
 * data A/B feeds), merged into one (src/merge/). The legs are inputs like a
 * rule's `input`; the merge says how copies are recognised (`key`) and what
 * is sent (`mode`). rule_schema.ts adds the legs to these settings.
 */
import { z } from "zod";

/** At most this many legs in one merge (their bits fit the table's leg mask). */
export const MAX_LEGS = 4;

/**
 * A sequence number in the UDP payload (market data: MoldUDP64, exchange
 * feeds): where it is and how it advances.
 */
export const SequenceKeySchema = z.strictObject({
  /** Byte offset of the sequence number in the UDP payload. */
  offset: z.int().min(0).max(9000),
  /** 2, 4 or 8 bytes (an 8-byte number is compared in its low 32 bits). */
  width: z.union([z.literal(2), z.literal(4), z.literal(8)]),
  endian: z.enum(["big", "little"]).optional(),
  /**
   * How far one datagram advances it: 1 (default), or a message count read
   * from the payload (MoldUDP64: the sequence number is the first message's,
   * the count at offset 18, 2 bytes). A count of 0 is a heartbeat.
   */
  count: z.strictObject({
    offset: z.int().min(0).max(9000),
    width: z.union([z.literal(1), z.literal(2), z.literal(4)]),
    endian: z.enum(["big", "little"]).optional(),
  }).optional(),
});

/**
 * How the copies of one datagram are recognised: "rtp" (sequence number,
 * the SSRC binding the legs), a sequence number in the payload, or "hash"
 * (byte-identical legs without any sequence, e.g. MPEG-TS over UDP).
 */
export const MergeKeySchema = z.union([
  z.literal("rtp"),
  z.literal("hash"),
  z.strictObject({ sequence: SequenceKeySchema }),
]);

export const FailoverSchema = z.strictObject({
  /** The preferred leg (index into legs, default 0): used whenever it is clean. */
  primary: z.int().min(0).max(MAX_LEGS - 1).optional(),
  /** Silence or loss of the active leg this long switches away (default 200 ms); also the least time between switches. */
  hold_off_ms: z.int().min(1).max(60_000).optional(),
  /** The primary must be clean this long before it is taken back (default 5000 ms). */
  clear_ms: z.int().min(0).max(3_600_000).optional(),
});

/** A merge's settings; rule_schema.ts adds its legs (inputs). */
export const MergeSettingsSchema = z.strictObject({
  key: MergeKeySchema.optional(),
  /**
   * pass-through (default): the first copy is sent at once, later copies are
   * dropped: no added latency. resequence: sent in sequence order at first
   * arrival + delay_ms; a gap older than that is lost and skipped. failover:
   * the legs are not copies (two encoders): one leg is sent, and the relay
   * switches on silence or loss of it.
   */
  mode: z.enum(["pass-through", "resequence", "failover"]).optional(),
  /**
   * How long a datagram's copies are waited for (default 450 ms, ST 2022-7
   * class C): later copies are counted late, and a sequence number no leg
   * brought within it is counted lost.
   */
  window_ms: z.int().min(1).max(10_000).optional(),
  /** resequence: how long every datagram is held (default 50 ms). */
  delay_ms: z.int().min(1).max(2_000).optional(),
  /** A leg without packets this long is down (default 500 ms). */
  leg_timeout_ms: z.int().min(10).max(600_000).optional(),
  /** Path diversity is judged over this many seconds of losses (default 60). */
  diversity_window_s: z.int().min(1).max(86_400).optional(),
  failover: FailoverSchema.optional(),
});

export type MergeKey = z.infer<typeof MergeKeySchema>;
export type SequenceKey = z.infer<typeof SequenceKeySchema>;
