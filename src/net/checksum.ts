/**
 * Internet checksum (RFC 1071) helpers in 32-bit integer arithmetic. Pure
 * functions over a DataView; nothing allocates.
 *
 * A "sum" here is a non-negative integer holding a ones'-complement sum not
 * yet folded to 16 bits; fold16() folds it, and the checksum written to a
 * header is the complement of the folded sum (~fold16(sum) & 0xffff).
 */

/** Folds a ones'-complement sum to 16 bits (end-around carry). */
export function fold16(sum: number): number {
  sum = (sum >>> 16) + (sum & 0xffff);
  sum = (sum >>> 16) + (sum & 0xffff);
  return sum;
}

/**
 * Sums the bytes [off, off+len) as big-endian 16-bit words; an odd last byte
 * is padded with zero (RFC 1071). Returns an unfolded sum that stays below
 * 2^31 for len up to 64 KiB... so fold periodically for longer inputs.
 */
export function sumWords(view: DataView, off: number, len: number): number {
  let sum = 0;
  const end = off + (len & ~1);
  // 64 KiB of 0xffff words adds up to 2^31: fold every 16 KiB to stay in int range.
  let chunkEnd = off + 16384;
  while (off < end) {
    const stop = chunkEnd < end ? chunkEnd : end;
    for (; off < stop; off += 2) sum += view.getUint16(off);
    sum = fold16(sum);
    chunkEnd += 16384;
  }
  if (len & 1) sum += view.getUint8(off) << 8;
  return sum;
}

/** IPv4 header checksum over ihlBytes at off (the checksum field must be zero). */
export function ipv4HeaderChecksum(view: DataView, off: number, ihlBytes: number): number {
  return ~fold16(sumWords(view, off, ihlBytes)) & 0xffff;
}

/** Ones'-complement of a 16-bit word, as used by incremental updates (RFC 1624). */
export function not16(word: number): number {
  return ~word & 0xffff;
}

/**
 * The part of an incremental update that changes a 32-bit field from `from`
 * to `to`: ~m + m' for both 16-bit halves (RFC 1624 eqn. 3). Add it to the
 * complemented old checksum, fold and complement again.
 */
export function delta32(from: number, to: number): number {
  return not16(from >>> 16) + not16(from & 0xffff) + ((to >>> 16) & 0xffff) + (to & 0xffff);
}

/** The same for one 16-bit field. */
export function delta16(from: number, to: number): number {
  return not16(from) + (to & 0xffff);
}

/**
 * Applies an incremental change to a checksum field value (RFC 1624):
 * HC' = ~(~HC + delta). Returns the new 16-bit field value.
 */
export function adjustChecksum(checksum: number, delta: number): number {
  return ~fold16(not16(checksum) + delta) & 0xffff;
}

/**
 * Full UDP checksum over IPv4: pseudo header (src, dst, proto 17, UDP length)
 * plus the UDP header and payload at udpOff (checksum field must be zero or
 * is subtracted by the caller). A result of 0 is sent as 0xffff (RFC 768).
 */
export function udpChecksumV4(
  view: DataView,
  src: number,
  dst: number,
  udpOff: number,
  udpLen: number,
): number {
  let sum = (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + 17 + udpLen;
  sum += sumWords(view, udpOff, udpLen);
  const c = ~fold16(sum) & 0xffff;
  return c === 0 ? 0xffff : c;
}

/**
 * Full UDP checksum over IPv6 (RFC 8200 8.1): pseudo header (source and
 * destination, 16 bytes each at srcOff/dstOff, upper-layer length, next
 * header 17) plus the UDP header and payload at udpOff (checksum field zero).
 * A result of 0 is sent as 0xffff.
 */
export function udpChecksumV6(
  view: DataView,
  srcOff: number,
  dstOff: number,
  udpOff: number,
  udpLen: number,
): number {
  let sum = sumWords(view, srcOff, 16) + sumWords(view, dstOff, 16) + 17 + udpLen;
  sum += sumWords(view, udpOff, udpLen);
  const c = ~fold16(sum) & 0xffff;
  return c === 0 ? 0xffff : c;
}
