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
} from "../net/checksum.ts";
import * as P from "./parse.ts";
import type { Output } from "./rule_table.ts";
import { ttlOffset } from "../net/headers.ts";
import * as H from "../net/headers.ts";

// Other modules' constants as module-local aliases: V8 folds these into the per-packet code,
// not imported bindings (bench/loop_bench.ts measured ~25 % more per packet with imports).
const F_FAMILY = P.F_FAMILY;
const F_FRAG_HDR = P.F_FRAG_HDR;
const F_IHL = P.F_IHL;
const F_IP = P.F_IP;
const F_L4 = P.F_L4;
const F_L4_LEN = P.F_L4_LEN;
const F_PROTO = P.F_PROTO;
const F_TOTAL = P.F_TOTAL;
const F_UDP = P.F_UDP;
const F_UDP_LEN = P.F_UDP_LEN;
const FRAME = P.FRAME;

const ETH_HLEN = H.ETH_HLEN;
const ETH_SRC = H.ETH_SRC;
const ETH_TYPE = H.ETH_TYPE;
const ETHERTYPE_IPV4 = H.ETHERTYPE_IPV4;
const ETHERTYPE_IPV6 = H.ETHERTYPE_IPV6;
const ETHERTYPE_VLAN = H.ETHERTYPE_VLAN;
const FRAGMENT_HLEN = H.FRAGMENT_HLEN;
const IP4_CHECK = H.IP4_CHECK;
const IP4_DST = H.IP4_DST;
const IP4_FRAG = H.IP4_FRAG;
const IP4_ID = H.IP4_ID;
const IP4_PROTO = H.IP4_PROTO;
const IP4_SRC = H.IP4_SRC;
const IP4_TOS = H.IP4_TOS;
const IP4_TOTAL_LEN = H.IP4_TOTAL_LEN;
const IP4_TTL = H.IP4_TTL;
const IP6_DST = H.IP6_DST;
const IP6_HOP_LIMIT = H.IP6_HOP_LIMIT;
const IP6_NEXT_HEADER = H.IP6_NEXT_HEADER;
const IP6_PAYLOAD_LEN = H.IP6_PAYLOAD_LEN;
const IP6_SRC = H.IP6_SRC;
const IPV4_HLEN = H.IPV4_HLEN;
const IPV6_HLEN = H.IPV6_HLEN;
const NH_FRAGMENT = H.NH_FRAGMENT;
const UDP_CHECK = H.UDP_CHECK;
const UDP_DST_PORT = H.UDP_DST_PORT;
const UDP_SRC_PORT = H.UDP_SRC_PORT;
const VLAN_HLEN = H.VLAN_HLEN;

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
  bytes.set(out.tx!.mac, dst + ETH_SRC);
  let eth = ETH_HLEN;
  if (out.vlan !== 0) {
    view.setUint16(dst + ETH_TYPE, ETHERTYPE_VLAN);
    view.setUint16(dst + ETH_HLEN, out.vlan); // the TCI: PCP 0, DEI 0
    eth += VLAN_HLEN;
  }
  view.setUint16(dst + eth - 2, out.family === 4 ? ETHERTYPE_IPV4 : ETHERTYPE_IPV6);
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
  if (out.tos >= 0) view.setUint8(o + IP4_TOS, out.tos | (view.getUint8(o + IP4_TOS) & 0x03)); // keep ECN
  view.setUint8(o + IP4_TTL, out.ttl >= 0 ? out.ttl : view.getUint8(ip + IP4_TTL) - 1);
  view.setInt32(o + IP4_SRC, out.src[0]);
  view.setInt32(o + IP4_DST, out.dst[0]);
  view.setUint16(o + IP4_CHECK, 0);
  view.setUint16(o + IP4_CHECK, ipv4HeaderChecksum(view, o, ihl));
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
  const inTos = inFamily === 4 ? view.getUint8(ip + IP4_TOS) : (view.getUint16(ip) >>> 4) & 0xff;
  const tos = out.tos >= 0 ? out.tos | (inTos & 0x03) : inTos; // ECN kept
  // A fixed TTL / hop limit, or the input's minus one (the caller dropped those at 1).
  const ttl = out.ttl >= 0 ? out.ttl : view.getUint8(ip + ttlOffset(inFamily)) - 1;
  let header: number;
  if (out.family === 6) {
    // Only 6->6 relays fragments (config refuses allow_fragments with translation).
    const fragHdr = FRAME[F_FRAG_HDR];
    const keep = fragHdr >= 0 ? FRAGMENT_HLEN : 0;
    header = IPV6_HLEN + keep;
    // Version 6, traffic class, flow label (kept from an IPv6 sender, else 0).
    const flow = inFamily === 6 ? view.getUint32(ip) & 0xfffff : 0;
    view.setUint32(o, ((6 << 28) | (tos << 20) | flow) >>> 0);
    view.setUint16(o + IP6_PAYLOAD_LEN, keep + l4Len);
    view.setUint8(o + IP6_NEXT_HEADER, keep !== 0 ? NH_FRAGMENT : FRAME[F_PROTO]);
    view.setUint8(o + IP6_HOP_LIMIT, ttl);
    const s = out.src;
    const d = out.dst;
    for (let i = 0; i < 4; i++) {
      view.setInt32(o + IP6_SRC + 4 * i, s[i]);
      view.setInt32(o + IP6_DST + 4 * i, d[i]);
    }
    if (keep !== 0) {
      bytes.copyWithin(o + IPV6_HLEN, fragHdr, fragHdr + FRAGMENT_HLEN);
      view.setUint8(o + IPV6_HLEN, FRAME[F_PROTO]); // next header inside: the payload's protocol
    }
  } else {
    header = IPV4_HLEN;
    view.setUint16(o, 0x4500 | tos); // version 4, IHL 5, TOS
    view.setUint16(o + IP4_TOTAL_LEN, IPV4_HLEN + l4Len);
    view.setUint16(o + IP4_ID, out.ipId);
    out.ipId = (out.ipId + 1) & 0xffff;
    view.setUint16(o + IP4_FRAG, 0); // a whole datagram: no fragment fields
    view.setUint8(o + IP4_TTL, ttl);
    view.setUint8(o + IP4_PROTO, FRAME[F_PROTO]);
    view.setInt32(o + IP4_SRC, out.src[0]);
    view.setInt32(o + IP4_DST, out.dst[0]);
    view.setUint16(o + IP4_CHECK, 0);
    view.setUint16(o + IP4_CHECK, ipv4HeaderChecksum(view, o, IPV4_HLEN));
  }
  bytes.copyWithin(o + header, l4, l4 + l4Len);
  if (FRAME[F_UDP] >= 0) {
    const u = o + header;
    if (udpChecksum === 0 && out.family === 6) {
      // An IPv4 sender sent no checksum; IPv6 requires one: sum it in full.
      view.setUint16(u + UDP_DST_PORT, out.port);
      if (out.srcPort >= 0) view.setUint16(u + UDP_SRC_PORT, out.srcPort);
      view.setUint16(u + UDP_CHECK, 0);
      view.setUint16(
        u + UDP_CHECK,
        udpChecksumV6(view, o + IP6_SRC, o + IP6_DST, u, FRAME[F_UDP_LEN]),
      );
    } else {
      patchUdp(view, u, out, udpChecksum, srcDelta);
    }
  }
  return header + l4Len;
}

/**
 * New destination port (and source port, when the output writes one); the
 * checksum adjusted for every changed word (a sender's 0 stays 0 over IPv4).
 */
function patchUdp(
  view: DataView,
  u: number,
  out: Output,
  udpChecksum: number,
  srcDelta: number,
): void {
  view.setUint16(u + UDP_DST_PORT, out.port);
  let delta = out.udpDelta + srcDelta;
  if (out.srcPort >= 0) {
    delta += not16(view.getUint16(u + UDP_SRC_PORT)) + out.srcPort;
    view.setUint16(u + UDP_SRC_PORT, out.srcPort);
  }
  if (udpChecksum !== 0) {
    const c = adjustChecksum(udpChecksum, delta);
    view.setUint16(u + UDP_CHECK, c === 0 ? 0xffff : c);
  }
}
