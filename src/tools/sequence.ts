/**
 * Loss, duplicate and reorder accounting from sequence numbers, in bounded
 * memory: one bit per sequence number seen (1 M packets = 128 KiB).
 */
export class SequenceTracker {
  #seen = new Uint8Array(1 << 16);
  received = 0;
  unique = 0;
  duplicates = 0;
  /** Arrived after a higher sequence number had already arrived (and not a duplicate). */
  reordered = 0;
  corrupted = 0;
  highest = -1;
  lowest = -1;
  /** Sequence number of the first datagram that arrived. */
  first = -1;

  /** Records one datagram's sequence number. */
  add(seq: number): void {
    this.received++;
    const byte = Math.floor(seq / 8);
    if (byte >= this.#seen.length) this.#grow(byte);
    const bit = 1 << (seq & 7);
    if (this.#seen[byte] & bit) {
      this.duplicates++;
      return;
    }
    this.#seen[byte] |= bit;
    this.unique++;
    if (this.first < 0) this.first = seq;
    if (this.lowest < 0 || seq < this.lowest) this.lowest = seq;
    if (seq < this.highest) this.reordered++;
    else this.highest = seq;
  }

  /** Lost = expected - unique; without an expected count, the gaps below the highest seen. */
  lost(expected?: number): number {
    if (expected !== undefined) return Math.max(0, expected - this.unique);
    return this.highest < 0 ? 0 : this.highest + 1 - this.unique;
  }

  #grow(byte: number): void {
    let size = this.#seen.length;
    while (size <= byte) size *= 2;
    if (size > 1 << 30) throw new RangeError("sequence numbers beyond 8 * 2^30 are not tracked");
    const next = new Uint8Array(size);
    next.set(this.#seen);
    this.#seen = next;
  }
}
