/**
 * Stage "rewrite": builds one output frame from the parsed input packet
 * (FRAME) at `dst` in the same buffer. Per-output constants (MACs, addresses,
 * the fixed part of the UDP checksum delta) were computed at plan time.
 */
import { adjustChecksum, fold16, ipv4HeaderChecksum, not16, sumWords } from "./checksum.ts";
import { F_IHL, F_IP, F_TOTAL, F_UDP, FRAME } from "./parse.ts";
import type { Output } from "./rule_table.ts";

const ETH_HLEN = 14;

/**
 * The per-packet part of the UDP checksum delta: the old source address,
 * complemented (RFC 1624), which varies by sender.
 */
export function sourceDelta(src: number): number {
  return not16(src >>> 16) + not16(src & 0xffff);
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

/**
 * Writes the rewritten frame for `out` at `dst` and returns its length.
 * `udpChecksum` is the input's (finished) UDP checksum, 0 when the sender
 * sent none (then none is sent either); `srcDelta` is sourceDelta(src).
 */
export function rewriteInto(
  view: DataView,
  bytes: Uint8Array,
  dst: number,
  out: Output,
  udpChecksum: number,
  srcDelta: number,
): number {
  const ip = FRAME[F_IP];
  const ihl = FRAME[F_IHL];
  const total = FRAME[F_TOTAL];
  // Ethernet: group MAC, our MAC, IPv4 (any input VLAN tag is not copied).
  bytes.set(out.dstMac, dst);
  bytes.set(out.tx.mac, dst + 6);
  view.setUint16(dst + 12, 0x0800);
  // IPv4 header (with options) and payload; Ethernet padding is left behind.
  const o = dst + ETH_HLEN;
  bytes.copyWithin(o, ip, ip + total);
  if (out.tos >= 0) view.setUint8(o + 1, out.tos | (view.getUint8(o + 1) & 0x03)); // keep ECN
  view.setUint8(o + 8, out.ttl);
  view.setInt32(o + 12, out.srcIp);
  view.setInt32(o + 16, out.group);
  view.setUint16(o + 10, 0);
  view.setUint16(o + 10, ipv4HeaderChecksum(view, o, ihl));
  if (FRAME[F_UDP] >= 0) {
    const u = o + ihl;
    view.setUint16(u + 2, out.port);
    if (udpChecksum !== 0) {
      const c = adjustChecksum(udpChecksum, out.udpDelta + srcDelta);
      view.setUint16(u + 6, c === 0 ? 0xffff : c);
    }
  }
  return ETH_HLEN + total;
}
