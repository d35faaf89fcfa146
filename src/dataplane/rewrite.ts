/**
 * Stage "rewrite": builds one output frame from the parsed input packet
 * (FRAME) at `dst` in the same buffer. Per-output constants (MACs, addresses,
 * the fixed part of the UDP checksum delta) were computed at plan time.
 *
 * IPv4 -> IPv4 copies the IPv4 header (options included) and patches it.
 * Every other pair (6->6, 4->6, 6->4) builds a plain IP header in front of
 * the copied UDP datagram: IPv6 extension headers are per-hop or per-path
 * facts of the input side and are not carried on (the fragment header of a
 * relayed IPv6 fragment is the exception). The UDP checksum is adjusted
 * incrementally in every case (RFC 1624); only an IPv4 datagram sent without
 * one and relayed to IPv6, where it is mandatory, is summed in full.
 */
import {
  adjustChecksum,
  fold16,
  ipv4HeaderChecksum,
  not16,
  sumWords,
  udpChecksumV6,
} from "./checksum.ts";
import {
  F_FAMILY,
  F_FRAG_HDR,
  F_IHL,
  F_IP,
  F_L4,
  F_L4_LEN,
  F_PROTO,
  F_TOTAL,
  F_UDP,
  F_UDP_LEN,
  FRAME,
} from "./parse.ts";
import type { Output } from "./rule_table.ts";

const ETH_HLEN = 14;
/** An 802.1Q tag: TPID 0x8100 and the TCI, before the ethertype. */
export const VLAN_HLEN = 4;
const IPV4_HLEN = 20;
const IPV6_HLEN = 40;
const FRAGMENT_HLEN = 8;

/**
 * The per-packet part of the UDP checksum delta for an IPv4 sender: the old
 * source address, complemented (RFC 1624), which varies by sender.
 */
export function sourceDelta(src: number): number {
  return not16(src >>> 16) + not16(src & 0xffff);
}

/** The same for an IPv6 sender: its 16-byte source address at srcOff. */
export function sourceDelta6(view: DataView, srcOff: number): number {
  let d = 0;
  for (let i = 0; i < 16; i += 2) d += not16(view.getUint16(srcOff + i));
  return d;
}

/**
 * Finishes a checksum the sender left partial (TP_STATUS_CSUMNOTREADY: TX
 * offload on the sending side). The field holds the folded pseudo-header sum;
 * summing the whole UDP segment with it and complementing gives the final
 * checksum. Costs one pass over the payload; frames from real NICs never
 * need it.
 */
export function finishPartialChecksum(view: DataView, udp: number, udpLen: number): number {
  const c = ~fold16(sumWords(view, udp, udpLen)) & 0xffff;
  return c === 0 ? 0xffff : c;
}

/** Length of the frame rewriteInto() will write for `out` (for the MTU check), with its VLAN tag if any. */
export function outputFrameLength(out: Output): number {
  const inFamily = FRAME[F_FAMILY];
  const eth = out.vlan !== 0 ? ETH_HLEN + VLAN_HLEN : ETH_HLEN;
  if (inFamily === 4 && out.family === 4) return eth + FRAME[F_TOTAL];
  const ipHeader = out.family === 4
    ? IPV4_HLEN
    : IPV6_HLEN + (FRAME[F_FRAG_HDR] >= 0 ? FRAGMENT_HLEN : 0);
  return eth + ipHeader + FRAME[F_L4_LEN];
}

/**
 * Writes the rewritten frame for `out` at `dst` and returns its length.
 * `udpChecksum` is the input's (finished) UDP checksum, 0 when an IPv4 sender
 * sent none; `srcDelta` is sourceDelta(src) or sourceDelta6(...).
 */
export function rewriteInto(
  view: DataView,
  bytes: Uint8Array,
  dst: number,
  out: Output,
  udpChecksum: number,
  srcDelta: number,
): number {
  // Ethernet: group MAC, our MAC, the output's VLAN tag if it has one, the
  // output's ethertype (input VLAN tags are not copied).
  bytes.set(out.dstMac, dst);
  bytes.set(out.tx!.mac, dst + 6);
  let eth = ETH_HLEN;
  if (out.vlan !== 0) {
    view.setUint16(dst + 12, 0x8100);
    view.setUint16(dst + 14, out.vlan); // PCP 0, DEI 0
    eth += VLAN_HLEN;
  }
  view.setUint16(dst + eth - 2, out.family === 4 ? 0x0800 : 0x86dd);
  const o = dst + eth;
  if (FRAME[F_FAMILY] === 4 && out.family === 4) {
    return eth + rewrite44(view, bytes, o, out, udpChecksum, srcDelta);
  }
  return eth + buildPacket(view, bytes, o, out, udpChecksum, srcDelta);
}

/** IPv4 -> IPv4: the header is copied with its options and patched. Returns the IP packet length. */
function rewrite44(
  view: DataView,
  bytes: Uint8Array,
  o: number,
  out: Output,
  udpChecksum: number,
  srcDelta: number,
): number {
  const ip = FRAME[F_IP];
  const ihl = FRAME[F_IHL];
  const total = FRAME[F_TOTAL];
  // IPv4 header (with options) and payload; Ethernet padding is left behind.
  bytes.copyWithin(o, ip, ip + total);
  if (out.tos >= 0) view.setUint8(o + 1, out.tos | (view.getUint8(o + 1) & 0x03)); // keep ECN
  view.setUint8(o + 8, out.ttl >= 0 ? out.ttl : view.getUint8(ip + 8) - 1);
  view.setInt32(o + 12, out.src[0]);
  view.setInt32(o + 16, out.dst[0]);
  view.setUint16(o + 10, 0);
  view.setUint16(o + 10, ipv4HeaderChecksum(view, o, ihl));
  if (FRAME[F_UDP] >= 0) patchUdp(view, o + ihl, out, udpChecksum, srcDelta);
  return total;
}

/**
 * 6->6, 4->6, 6->4: a new IP header, then the UDP datagram (or, for a
 * relayed IPv6 fragment, its fragment header and data). Returns the IP
 * packet length.
 */
function buildPacket(
  view: DataView,
  bytes: Uint8Array,
  o: number,
  out: Output,
  udpChecksum: number,
  srcDelta: number,
): number {
  const ip = FRAME[F_IP];
  const inFamily = FRAME[F_FAMILY];
  const l4 = FRAME[F_L4];
  const l4Len = FRAME[F_L4_LEN];
  // Traffic class / TOS of the input, and what the output writes.
  const inTos = inFamily === 4 ? view.getUint8(ip + 1) : (view.getUint16(ip) >>> 4) & 0xff;
  const tos = out.tos >= 0 ? out.tos | (inTos & 0x03) : inTos; // ECN kept
  // A fixed TTL / hop limit, or the input's minus one (the caller dropped those at 1).
  const ttl = out.ttl >= 0 ? out.ttl : view.getUint8(inFamily === 4 ? ip + 8 : ip + 7) - 1;
  let header: number;
  if (out.family === 6) {
    // Only 6->6 relays fragments (config refuses allow_fragments with translation).
    const fragHdr = FRAME[F_FRAG_HDR];
    const keep = fragHdr >= 0 ? FRAGMENT_HLEN : 0;
    header = IPV6_HLEN + keep;
    // Version 6, traffic class, flow label (kept from an IPv6 sender, else 0).
    const flow = inFamily === 6 ? view.getUint32(ip) & 0xfffff : 0;
    view.setUint32(o, ((6 << 28) | (tos << 20) | flow) >>> 0);
    view.setUint16(o + 4, keep + l4Len);
    view.setUint8(o + 6, keep !== 0 ? 44 : FRAME[F_PROTO]);
    view.setUint8(o + 7, ttl);
    const s = out.src;
    const d = out.dst;
    for (let i = 0; i < 4; i++) {
      view.setInt32(o + 8 + 4 * i, s[i]);
      view.setInt32(o + 24 + 4 * i, d[i]);
    }
    if (keep !== 0) {
      bytes.copyWithin(o + IPV6_HLEN, fragHdr, fragHdr + FRAGMENT_HLEN);
      view.setUint8(o + IPV6_HLEN, FRAME[F_PROTO]); // next header inside: the payload's protocol
    }
  } else {
    header = IPV4_HLEN;
    view.setUint16(o, 0x4500 | tos);
    view.setUint16(o + 2, IPV4_HLEN + l4Len);
    view.setUint16(o + 4, out.ipId);
    out.ipId = (out.ipId + 1) & 0xffff;
    view.setUint16(o + 6, 0); // a whole datagram: no fragment fields
    view.setUint8(o + 8, ttl);
    view.setUint8(o + 9, FRAME[F_PROTO]);
    view.setInt32(o + 12, out.src[0]);
    view.setInt32(o + 16, out.dst[0]);
    view.setUint16(o + 10, 0);
    view.setUint16(o + 10, ipv4HeaderChecksum(view, o, IPV4_HLEN));
  }
  bytes.copyWithin(o + header, l4, l4 + l4Len);
  if (FRAME[F_UDP] >= 0) {
    const u = o + header;
    if (udpChecksum === 0 && out.family === 6) {
      // An IPv4 sender sent no checksum; IPv6 requires one: sum it in full.
      view.setUint16(u + 2, out.port);
      view.setUint16(u + 6, 0);
      view.setUint16(u + 6, udpChecksumV6(view, o + 8, o + 24, u, FRAME[F_UDP_LEN]));
    } else {
      patchUdp(view, u, out, udpChecksum, srcDelta);
    }
  }
  return header + l4Len;
}

/** New destination port; the checksum adjusted for every changed word (a sender's 0 stays 0 over IPv4). */
function patchUdp(
  view: DataView,
  u: number,
  out: Output,
  udpChecksum: number,
  srcDelta: number,
): void {
  view.setUint16(u + 2, out.port);
  if (udpChecksum !== 0) {
    const c = adjustChecksum(udpChecksum, out.udpDelta + srcDelta);
    view.setUint16(u + 6, c === 0 ? 0xffff : c);
  }
}
