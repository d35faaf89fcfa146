/**
 * Stage "parse": Ethernet (optionally one 802.1Q tag) -> IPv4 or IPv6 (with
 * its extension headers) -> UDP, every read bounds-checked against the
 * captured length. Allocation-free: results go into the module-level scratch
 * array FRAME (one packet at a time per thread), and the return value is 0 or
 * a negative drop reason id (src/stats/registry.ts DROP_REASONS).
 */

import { fold16, sumWords } from "../net/checksum.ts";
import { DROP } from "../stats/registry.ts";
import * as H from "../net/headers.ts";

// Other modules' constants as module-local aliases: V8 folds these into the per-packet code,
// not imported bindings (bench/loop_bench.ts measured ~25 % more per packet with imports).
const ETH_HLEN = H.ETH_HLEN;
const ETH_TYPE = H.ETH_TYPE;
const ETHERTYPE_IPV4 = H.ETHERTYPE_IPV4;
const ETHERTYPE_IPV6 = H.ETHERTYPE_IPV6;
const ETHERTYPE_QINQ = H.ETHERTYPE_QINQ;
const ETHERTYPE_VLAN = H.ETHERTYPE_VLAN;
const FRAGMENT_HLEN = H.FRAGMENT_HLEN;
const IP4_DST = H.IP4_DST;
const IP4_FRAG = H.IP4_FRAG;
const IP4_MF = H.IP4_MF;
const IP4_OFFSET_MASK = H.IP4_OFFSET_MASK;
const IP4_PROTO = H.IP4_PROTO;
const IP4_SRC = H.IP4_SRC;
const IP4_TOTAL_LEN = H.IP4_TOTAL_LEN;
const IP6_NEXT_HEADER = H.IP6_NEXT_HEADER;
const IP6_PAYLOAD_LEN = H.IP6_PAYLOAD_LEN;
const IPPROTO_UDP = H.IPPROTO_UDP;
const IPV4_HLEN = H.IPV4_HLEN;
const IPV6_HLEN = H.IPV6_HLEN;
const NH_DEST_OPTIONS = H.NH_DEST_OPTIONS;
const NH_FRAGMENT = H.NH_FRAGMENT;
const NH_HOP_BY_HOP = H.NH_HOP_BY_HOP;
const NH_ROUTING = H.NH_ROUTING;
const UDP_CHECK = H.UDP_CHECK;
const UDP_DST_PORT = H.UDP_DST_PORT;
const UDP_HLEN = H.UDP_HLEN;
const UDP_LEN = H.UDP_LEN;
const VLAN_HLEN = H.VLAN_HLEN;
const VLAN_VID_MASK = H.VLAN_VID_MASK;

/** Drop reason ids (negated when returned), from the registry's one list. */
export const R_TRUNCATED = DROP.truncated;
export const R_NOT_IP = DROP.not_ip;
export const R_BAD_HEADER = DROP.bad_header;
export const R_NOT_UDP = DROP.not_udp;
export const R_FRAGMENT = DROP.fragment;
export const R_NO_MATCH = DROP.no_match;
export const R_RING_CORRUPT = DROP.ring_corrupt;
export const R_TTL_EXPIRED = DROP.ttl_expired;
export const R_LOOP = DROP.loop;

/** Indices into FRAME, the parse result of the current packet. */
export const F_IP = 0; // absolute offset of the IP header
export const F_IHL = 1; // IPv4 header length in bytes (20..60); 40 for IPv6
export const F_TOTAL = 2; // IP packet length (IPv4 total length; IPv6 40 + payload length), <= captured bytes
export const F_UDP = 3; // absolute offset of the UDP header (-1 for non-first fragments)
export const F_SRC = 4; // IPv4 source address; IPv6: the source's last 32-bit word (int32)
export const F_GROUP = 5; // IPv4 destination address; IPv6: the destination's last word (int32)
export const F_PORT = 6; // UDP destination port (0 for non-first fragments)
export const F_FRAG = 7; // FRAG_NONE, FRAG_FIRST or FRAG_LATER
export const F_UDP_LEN = 8; // UDP length field (0 for non-first fragments)
export const F_FAMILY = 9; // 4 or 6
export const F_L4 = 10; // absolute offset of what follows the IP headers (UDP header, or fragment data)
export const F_L4_LEN = 11; // bytes from F_L4 to the end of the IP packet
export const F_FRAG_HDR = 12; // IPv6: absolute offset of the fragment header of a fragment, else -1
export const F_VLAN = 13; // the frame's VLAN tags, outermost first (plan_types.ts vlanKey); -1: more than two
export const F_PROTO = 14; // IP protocol (IPv6: the last next header); 17 for UDP

/** Parse results of the current packet (reused for every packet). */
export const FRAME: Int32Array = new Int32Array(15);

/** FRAME[F_FRAG]: a whole datagram, the first fragment (UDP header here), a later one. */
export const FRAG_NONE = 0;
export const FRAG_FIRST = 1;
export const FRAG_LATER = 2;

/** More extension headers than this is not a stream anyone sends: dropped as bad_header. */
const MAX_EXTENSION_HEADERS = 8;

/**
 * Parses the frame at [off, off+len) in `view`. On success returns 0 and
 * fills FRAME; otherwise returns -reason. Never reads outside the range.
 */
export function parseFrame(view: DataView, off: number, len: number, ringVid = 0): number {
  if (len < ETH_HLEN) return -R_TRUNCATED;
  const end = off + len;
  let ip = off + ETH_HLEN;
  let ethertype = view.getUint16(off + ETH_TYPE);
  // VLAN tags: the outer one the kernel took out of the frame into the ring
  // header (ringVid), then those still in the frame (802.1Q or 802.1ad),
  // outermost first. A VID of 0 (priority tag) is no VLAN.
  let vlan = ringVid;
  let tags = ringVid === 0 ? 0 : 1;
  while (ethertype === ETHERTYPE_VLAN || ethertype === ETHERTYPE_QINQ) {
    // A tag: its TCI where the IP header would be, then the next ethertype.
    if (ip + VLAN_HLEN > end) return -R_TRUNCATED;
    const vid = view.getUint16(ip) & VLAN_VID_MASK;
    ethertype = view.getUint16(ip + 2);
    ip += VLAN_HLEN;
    if (vid === 0) continue;
    tags++;
    vlan = tags > 2 ? -1 : tags === 1 ? vid : vlan * 4096 + vid;
  }
  FRAME[F_VLAN] = vlan;
  if (ethertype === ETHERTYPE_IPV4) return parseIpv4(view, ip, end);
  if (ethertype === ETHERTYPE_IPV6) return parseIpv6(view, ip, end);
  return -R_NOT_IP;
}

/**
 * Another protocol than UDP (ESP, ...): its payload is carried as it is, so
 * there is no header of it to read. Whether a rule takes it is the match's
 * business (none: counted not_udp). Returns 0.
 */
function otherProtocol(frag: number): number {
  FRAME[F_UDP] = -1;
  FRAME[F_PORT] = 0;
  FRAME[F_UDP_LEN] = 0;
  FRAME[F_FRAG] = frag;
  return 0;
}

/** A later fragment: no UDP header; only the IP header can be rewritten. Returns 0. */
function laterFragment(): number {
  FRAME[F_UDP] = -1;
  FRAME[F_PORT] = 0;
  FRAME[F_UDP_LEN] = 0;
  FRAME[F_FRAG] = FRAG_LATER;
  return 0;
}

function parseIpv4(view: DataView, ip: number, end: number): number {
  if (ip + IPV4_HLEN > end) return -R_TRUNCATED;
  const versionIhl = view.getUint8(ip);
  if (versionIhl >> 4 !== 4) return -R_NOT_IP;
  const ihl = (versionIhl & 0x0f) << 2;
  if (ihl < IPV4_HLEN) return -R_BAD_HEADER;
  const total = view.getUint16(ip + IP4_TOTAL_LEN);
  if (total < ihl) return -R_BAD_HEADER;
  if (ip + total > end) return -R_TRUNCATED; // also covers ip + ihl > end
  const proto = view.getUint8(ip + IP4_PROTO);
  // The relay recomputes the header checksum on output, so verify it here
  // (as a router does, RFC 1812) rather than launder a corrupted header.
  if (fold16(sumWords(view, ip, ihl)) !== 0xffff) return -R_BAD_HEADER;

  const fragWord = view.getUint16(ip + IP4_FRAG);
  const fragOffset = fragWord & IP4_OFFSET_MASK;
  FRAME[F_FAMILY] = 4;
  FRAME[F_IP] = ip;
  FRAME[F_IHL] = ihl;
  FRAME[F_TOTAL] = total;
  FRAME[F_SRC] = view.getInt32(ip + IP4_SRC);
  FRAME[F_GROUP] = view.getInt32(ip + IP4_DST);
  FRAME[F_L4] = ip + ihl;
  FRAME[F_L4_LEN] = total - ihl;
  FRAME[F_FRAG_HDR] = -1;
  FRAME[F_PROTO] = proto;
  if (fragOffset !== 0) return laterFragment();
  if (proto !== IPPROTO_UDP) {
    return otherProtocol((fragWord & IP4_MF) !== 0 ? FRAG_FIRST : FRAG_NONE);
  }
  const udp = ip + ihl;
  if (total - ihl < UDP_HLEN) return -R_TRUNCATED;
  const udpLen = view.getUint16(udp + UDP_LEN);
  if ((fragWord & IP4_MF) !== 0) {
    // First fragment: the UDP header is here but the datagram continues.
    if (udpLen < UDP_HLEN) return -R_BAD_HEADER;
    FRAME[F_FRAG] = FRAG_FIRST;
  } else {
    // Whole datagram: the UDP length must fit the IP payload exactly or less.
    if (udpLen < UDP_HLEN || udpLen > total - ihl) return -R_BAD_HEADER;
    FRAME[F_FRAG] = FRAG_NONE;
  }
  FRAME[F_UDP] = udp;
  FRAME[F_PORT] = view.getUint16(udp + UDP_DST_PORT);
  FRAME[F_UDP_LEN] = udpLen;
  return 0;
}

/**
 * IPv6: walks the extension headers (hop-by-hop, routing, destination
 * options, fragment) to the UDP header. A relay does not carry per-hop
 * options onwards: the output packet is built with only what it needs (see
 * rewrite.ts), so the headers are skipped, not kept.
 */
function parseIpv6(view: DataView, ip: number, end: number): number {
  if (ip + IPV6_HLEN > end) return -R_TRUNCATED;
  if (view.getUint8(ip) >> 4 !== 6) return -R_NOT_IP;
  const payloadLen = view.getUint16(ip + IP6_PAYLOAD_LEN);
  if (payloadLen === 0) return -R_BAD_HEADER; // jumbograms are not relayed
  const total = IPV6_HLEN + payloadLen;
  if (ip + total > end) return -R_TRUNCATED;
  const packetEnd = ip + total;

  let nh = view.getUint8(ip + IP6_NEXT_HEADER);
  let p = ip + IPV6_HLEN;
  let fragHdr = -1;
  let fragOffset = 0;
  let more = 0;
  for (let n = 0; nh !== IPPROTO_UDP; n++) {
    if (n === MAX_EXTENSION_HEADERS) return -R_BAD_HEADER;
    if (nh === NH_FRAGMENT) {
      if (fragHdr >= 0) return -R_BAD_HEADER; // two fragment headers
      if (p + FRAGMENT_HLEN > packetEnd) return -R_TRUNCATED;
      const word = view.getUint16(p + 2);
      fragHdr = p;
      fragOffset = word >>> 3;
      more = word & 1;
      nh = view.getUint8(p);
      p += FRAGMENT_HLEN;
      // A later fragment carries no further headers of the original packet.
      if (fragOffset !== 0) break;
    } else if (nh === NH_HOP_BY_HOP || nh === NH_ROUTING || nh === NH_DEST_OPTIONS) {
      // Hop-by-hop options may only follow the IPv6 header directly (RFC 8200).
      if (nh === NH_HOP_BY_HOP && n !== 0) return -R_BAD_HEADER;
      if (p + 8 > packetEnd) return -R_TRUNCATED;
      // A routing header with segments left names another final destination:
      // the UDP checksum would cover that one. Multicast is never routed so.
      if (nh === NH_ROUTING && view.getUint8(p + 3) !== 0) return -R_BAD_HEADER;
      nh = view.getUint8(p);
      p += (view.getUint8(p + 1) + 1) << 3;
      if (p > packetEnd) return -R_TRUNCATED;
    } else {
      break; // the upper-layer protocol: ESP, TCP, ICMPv6, "no next header", ...
    }
  }

  FRAME[F_FAMILY] = 6;
  FRAME[F_IP] = ip;
  FRAME[F_IHL] = IPV6_HLEN;
  FRAME[F_TOTAL] = total;
  // The last 32-bit words of source and destination.
  FRAME[F_SRC] = view.getInt32(ip + 20);
  FRAME[F_GROUP] = view.getInt32(ip + 36);
  FRAME[F_L4] = p;
  FRAME[F_L4_LEN] = packetEnd - p;
  FRAME[F_PROTO] = nh;
  if (fragHdr >= 0 && fragOffset !== 0) {
    FRAME[F_FRAG_HDR] = fragHdr;
    return laterFragment();
  }
  if (nh !== IPPROTO_UDP) {
    FRAME[F_FRAG_HDR] = fragHdr >= 0 && more !== 0 ? fragHdr : -1;
    return otherProtocol(fragHdr >= 0 && more !== 0 ? FRAG_FIRST : FRAG_NONE);
  }
  const udp = p;
  if (packetEnd - udp < UDP_HLEN) return -R_TRUNCATED;
  const udpLen = view.getUint16(udp + UDP_LEN);
  // The UDP checksum is mandatory over IPv6 (RFC 8200 8.1).
  if (view.getUint16(udp + UDP_CHECK) === 0) return -R_BAD_HEADER;
  if (fragHdr >= 0 && more !== 0) {
    if (udpLen < UDP_HLEN) return -R_BAD_HEADER;
    FRAME[F_FRAG_HDR] = fragHdr;
    FRAME[F_FRAG] = FRAG_FIRST;
  } else {
    // Whole datagram (an "atomic fragment", offset 0 and no more, is one too: RFC 6946).
    if (udpLen < UDP_HLEN || udpLen > packetEnd - udp) return -R_BAD_HEADER;
    FRAME[F_FRAG_HDR] = -1;
    FRAME[F_FRAG] = FRAG_NONE;
  }
  FRAME[F_UDP] = udp;
  FRAME[F_PORT] = view.getUint16(udp + UDP_DST_PORT);
  FRAME[F_UDP_LEN] = udpLen;
  return 0;
}
