/**
 * Stage "parse": Ethernet (optionally one 802.1Q tag) -> IPv4 -> UDP, every
 * read bounds-checked against the captured length. Allocation-free: results
 * go into the module-level scratch array FRAME (one packet at a time per
 * thread), and the return value is 0 or a negative drop reason id
 * (src/stats/registry.ts DROP_REASONS).
 */

import { fold16, sumWords } from "./checksum.ts";

/** Drop reason ids (negated when returned). Must match DROP_REASONS. */
export const R_TRUNCATED = 1;
export const R_NOT_IPV4 = 2;
export const R_BAD_HEADER = 3;
export const R_NOT_UDP = 4;
export const R_FRAGMENT = 5;
export const R_NO_MATCH = 6;
export const R_RING_CORRUPT = 7;

/** Indices into FRAME, the parse result of the current packet. */
export const F_IP = 0; // absolute offset of the IPv4 header
export const F_IHL = 1; // IPv4 header length in bytes (20..60)
export const F_TOTAL = 2; // IPv4 total length (header + payload), <= captured bytes
export const F_UDP = 3; // absolute offset of the UDP header (-1 for non-first fragments)
export const F_SRC = 4; // source address (int32: the u32 value | 0)
export const F_GROUP = 5; // destination address (int32)
export const F_PORT = 6; // UDP destination port (0 for non-first fragments)
export const F_FRAG = 7; // 0: not a fragment, 1: first fragment, 2: later fragment
export const F_UDP_LEN = 8; // UDP length field (0 for non-first fragments)

/** Parse results of the current packet (reused for every packet). */
export const FRAME: Int32Array = new Int32Array(9);

const ETH_HLEN = 14;
const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_VLAN = 0x8100;
const IPPROTO_UDP = 17;
const IP_MF = 0x2000; // "more fragments" flag in the flags/fragment-offset word
const IP_OFFSET_MASK = 0x1fff; // fragment offset in 8-byte units

/**
 * Parses the frame at [off, off+len) in `view`. On success returns 0 and
 * fills FRAME; otherwise returns -reason. Never reads outside the range.
 */
export function parseFrame(view: DataView, off: number, len: number): number {
  if (len < ETH_HLEN) return -R_TRUNCATED;
  const end = off + len;
  let ip = off + ETH_HLEN;
  let ethertype = view.getUint16(off + 12);
  if (ethertype === ETHERTYPE_VLAN) {
    // One 802.1Q tag: TCI at +14, inner ethertype at +16.
    if (len < ETH_HLEN + 4) return -R_TRUNCATED;
    ethertype = view.getUint16(off + 16);
    ip += 4;
  }
  if (ethertype !== ETHERTYPE_IPV4) return -R_NOT_IPV4;
  if (ip + 20 > end) return -R_TRUNCATED;

  const versionIhl = view.getUint8(ip);
  if (versionIhl >> 4 !== 4) return -R_NOT_IPV4;
  const ihl = (versionIhl & 0x0f) << 2;
  if (ihl < 20) return -R_BAD_HEADER;
  const total = view.getUint16(ip + 2);
  if (total < ihl) return -R_BAD_HEADER;
  if (ip + total > end) return -R_TRUNCATED; // also covers ip + ihl > end
  if (view.getUint8(ip + 9) !== IPPROTO_UDP) return -R_NOT_UDP;
  // The relay recomputes the header checksum on output, so verify it here
  // (as a router does, RFC 1812) rather than launder a corrupted header.
  if (fold16(sumWords(view, ip, ihl)) !== 0xffff) return -R_BAD_HEADER;

  const fragWord = view.getUint16(ip + 6);
  const fragOffset = fragWord & IP_OFFSET_MASK;
  FRAME[F_IP] = ip;
  FRAME[F_IHL] = ihl;
  FRAME[F_TOTAL] = total;
  FRAME[F_SRC] = view.getInt32(ip + 12);
  FRAME[F_GROUP] = view.getInt32(ip + 16);
  if (fragOffset !== 0) {
    // A later fragment: no UDP header here; only the IP header can be rewritten.
    FRAME[F_UDP] = -1;
    FRAME[F_PORT] = 0;
    FRAME[F_UDP_LEN] = 0;
    FRAME[F_FRAG] = 2;
    return 0;
  }
  const udp = ip + ihl;
  if (total - ihl < 8) return -R_TRUNCATED;
  const udpLen = view.getUint16(udp + 4);
  if ((fragWord & IP_MF) !== 0) {
    // First fragment: the UDP header is here but the datagram continues.
    if (udpLen < 8) return -R_BAD_HEADER;
    FRAME[F_FRAG] = 1;
  } else {
    // Whole datagram: the UDP length must fit the IP payload exactly or less.
    if (udpLen < 8 || udpLen > total - ihl) return -R_BAD_HEADER;
    FRAME[F_FRAG] = 0;
  }
  FRAME[F_UDP] = udp;
  FRAME[F_PORT] = view.getUint16(udp + 2);
  FRAME[F_UDP_LEN] = udpLen;
  return 0;
}
