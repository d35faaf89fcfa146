/**
 * The generator's payload format, checked by the sink:
 *
 *   0  "MCRG" magic         4 bytes
 *   4  run id               u32 big-endian
 *   8  sequence number      u64 big-endian (written per datagram by c/udp.c)
 *   16 payload size         u32 big-endian
 *   20 reserved             u32 (0)
 *   24 send time            u32 seconds + u32 nanoseconds, CLOCK_REALTIME, big-endian
 *                           (written per batch by c/udp.c, at the sendmmsg() call)
 *   32 filler               byte i = (runId + i) & 0xff
 */

export const PAYLOAD_MAGIC = 0x4d435247; // "MCRG"
export const SEQ_OFFSET = 8;
export const SENT_OFFSET = 24;
export const MIN_PAYLOAD = 32;

/** Builds the template payload for a run (sequence bytes are filled per datagram). */
export function buildPayload(runId: number, size: number): Uint8Array {
  if (size < MIN_PAYLOAD) {
    throw new RangeError(`payload size must be at least ${MIN_PAYLOAD} bytes`);
  }
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, PAYLOAD_MAGIC);
  view.setUint32(4, runId >>> 0);
  view.setUint32(16, size);
  for (let i = MIN_PAYLOAD; i < size; i++) bytes[i] = (runId + i) & 0xff;
  return bytes;
}

/** Result codes of checkPayload. */
export const PAYLOAD_OK = 0;
export const PAYLOAD_FOREIGN = 1; // not ours: other magic or another run
export const PAYLOAD_CORRUPT = 2; // ours, but bytes differ from what was sent

/**
 * Checks a received datagram at [off, off+len) of `bytes`. Verifies the
 * header and every 61st filler byte plus the last one (cheap, catches
 * truncation and overwrites). runId < 0 accepts any run.
 */
export function checkPayload(
  view: DataView,
  bytes: Uint8Array,
  off: number,
  len: number,
  runId: number,
): number {
  if (len < MIN_PAYLOAD || view.getUint32(off) !== PAYLOAD_MAGIC) return PAYLOAD_FOREIGN;
  const run = view.getUint32(off + 4);
  if (runId >= 0 && run !== runId >>> 0) return PAYLOAD_FOREIGN;
  if (view.getUint32(off + 16) !== len) return PAYLOAD_CORRUPT;
  for (let i = MIN_PAYLOAD; i < len; i += 61) {
    if (bytes[off + i] !== ((run + i) & 0xff)) return PAYLOAD_CORRUPT;
  }
  if (bytes[off + len - 1] !== ((run + len - 1) & 0xff)) return PAYLOAD_CORRUPT;
  return PAYLOAD_OK;
}

/** The sequence number of a datagram (exact below 2^53). */
export function payloadSequence(view: DataView, off: number): number {
  return view.getUint32(off + SEQ_OFFSET) * 4294967296 + view.getUint32(off + SEQ_OFFSET + 4);
}

/**
 * One-way latency of a datagram in nanoseconds: its kernel receive time
 * (seconds, nanoseconds) minus the send time the generator wrote. Exact in
 * a double (the seconds are subtracted first).
 */
export function payloadLatencyNs(
  view: DataView,
  off: number,
  recvSec: number,
  recvNsec: number,
): number {
  const sentSec = view.getUint32(off + SENT_OFFSET);
  const sentNsec = view.getUint32(off + SENT_OFFSET + 4);
  return ((recvSec >>> 0) - sentSec) * 1e9 + (recvNsec - sentNsec);
}
