/**
 * The IP layer of routing-protocol packets (IGMP, PIM; MLD over IPv6): mcr's control
 * sockets read and write whole IP packets, so the speakers parse and build
 * the headers themselves. Every length is checked before it is used; a
 * packet that fails a check is answered with a reason, never an exception.
 */
import { fold16, sumWords } from "../net/checksum.ts";
import { formatIp, ip, type IpAddress } from "../net/address.ts";

/** A routing-protocol packet as received. */
export interface ControlPacket {
  source: string;
  destination: string;
  /** IPv4 protocol. */
  protocol: number;
  ttl: number;
  /** The IPv4 Router Alert option (RFC 2113) is present. */
  routerAlert: boolean;
  /** The protocol message (a view into the received buffer). */
  payload: Uint8Array;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

export const fail = <T>(reason: string): Parsed<T> => ({ ok: false, reason });

/** Ones'-complement checksum of bytes (0 when a stored checksum over them is right). */
export function internetChecksum(bytes: Uint8Array, initial = 0): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return ~fold16(initial + sumWords(view, 0, bytes.length)) & 0xffff;
}

function addressText(bytes: Uint8Array): string {
  return formatIp({ family: 4, bytes: bytes.slice() } as IpAddress);
}

/** Parses an IPv4 packet carrying a routing protocol (no fragments). */
export function parseIpv4(buf: Uint8Array): Parsed<ControlPacket> {
  if (buf.length < 20) return fail("truncated");
  if (buf[0] >> 4 !== 4) return fail("not_ipv4");
  const ihl = (buf[0] & 0xf) * 4;
  const total = (buf[2] << 8) | buf[3];
  if (ihl < 20 || total < ihl || total > buf.length) return fail("bad_length");
  if (internetChecksum(buf.subarray(0, ihl)) !== 0) return fail("bad_ip_checksum");
  if ((buf[6] & 0x3f) !== 0 || buf[7] !== 0) return fail("fragment");
  let routerAlert = false;
  for (let o = 20; o < ihl;) {
    const type = buf[o];
    if (type === 0) break;
    if (type === 1) {
      o++;
      continue;
    }
    if (o + 1 >= ihl || buf[o + 1] < 2 || o + buf[o + 1] > ihl) return fail("bad_ip_option");
    if (type === 0x94) routerAlert = true;
    o += buf[o + 1];
  }
  return {
    ok: true,
    value: {
      source: addressText(buf.subarray(12, 16)),
      destination: addressText(buf.subarray(16, 20)),
      protocol: buf[9],
      ttl: buf[8],
      routerAlert,
      payload: buf.subarray(ihl, total),
    },
  };
}

let identification = 1;

/**
 * An IPv4 packet: TOS 0xc0 (network control), DF clear, the given TTL, the
 * Router Alert option when asked (IGMP), the header checksum filled in.
 */
export function buildIpv4(
  source: string,
  destination: string,
  protocol: number,
  ttl: number,
  payload: Uint8Array,
  routerAlert: boolean,
): Uint8Array {
  const ihl = routerAlert ? 24 : 20;
  const out = new Uint8Array(ihl + payload.length);
  out[0] = 0x40 | (ihl / 4);
  out[1] = 0xc0;
  out[2] = out.length >> 8;
  out[3] = out.length & 0xff;
  identification = (identification + 1) & 0xffff;
  out[4] = identification >> 8;
  out[5] = identification & 0xff;
  out[8] = ttl;
  out[9] = protocol;
  out.set(ip(source).bytes, 12);
  out.set(ip(destination).bytes, 16);
  if (routerAlert) out.set([0x94, 0x04, 0x00, 0x00], 20);
  const sum = internetChecksum(out.subarray(0, ihl));
  out[10] = sum >> 8;
  out[11] = sum & 0xff;
  out.set(payload, ihl);
  return out;
}

/** Sum of the IPv6 pseudo-header (RFC 8200 8.1) for an upper-layer checksum. */
function pseudoSum6(src: Uint8Array, dst: Uint8Array, length: number, next: number): number {
  const both = new Uint8Array(32);
  both.set(src, 0);
  both.set(dst, 16);
  return fold16(
    sumWords(new DataView(both.buffer), 0, 32) + (length >>> 16) + (length & 0xffff) + next,
  );
}

/** The ICMPv6 checksum of `message` between src and dst (0 when the stored one is right). */
export function icmp6Checksum(src: Uint8Array, dst: Uint8Array, message: Uint8Array): number {
  return internetChecksum(message, pseudoSum6(src, dst, message.length, 58));
}

/** An ICMPv6 message in an IPv6 packet, as received (MLD). */
export interface Icmp6Packet {
  source: string;
  destination: string;
  hopLimit: number;
  /** A hop-by-hop Router Alert option was present (MLD requires one). */
  routerAlert: boolean;
  payload: Uint8Array;
}

/** Parses an IPv6 packet carrying ICMPv6, directly or behind one hop-by-hop header; checks the ICMPv6 checksum. */
export function parseIpv6Icmp(buf: Uint8Array): Parsed<Icmp6Packet> {
  if (buf.length < 40) return fail("truncated");
  if (buf[0] >> 4 !== 6) return fail("not_ipv6");
  const end = 40 + ((buf[4] << 8) | buf[5]);
  if (end > buf.length) return fail("bad_length");
  let next = buf[6];
  let off = 40;
  let routerAlert = false;
  if (next === 0) {
    if (off + 8 > end) return fail("truncated");
    const hbhEnd = off + (buf[off + 1] + 1) * 8;
    if (hbhEnd > end) return fail("bad_length");
    for (let o = off + 2; o < hbhEnd;) {
      if (buf[o] === 0) { // Pad1
        o++;
        continue;
      }
      if (o + 2 > hbhEnd || o + 2 + buf[o + 1] > hbhEnd) return fail("bad_ip_option");
      if (buf[o] === 5) routerAlert = true;
      o += 2 + buf[o + 1];
    }
    next = buf[off];
    off = hbhEnd;
  }
  if (next !== 58) return fail("not_icmpv6");
  const payload = buf.subarray(off, end);
  if (icmp6Checksum(buf.subarray(8, 24), buf.subarray(24, 40), payload) !== 0) {
    return fail("bad_checksum");
  }
  return {
    ok: true,
    value: {
      source: ipv6At(buf, 8),
      destination: ipv6At(buf, 24),
      hopLimit: buf[7],
      routerAlert,
      payload,
    },
  };
}

/**
 * An IPv6 packet with a hop-by-hop Router Alert for MLD (RFC 2711) carrying
 * `message` (ICMPv6), its checksum (bytes 2-3) filled in here.
 */
export function buildIpv6Mld(source: string, destination: string, message: Uint8Array): Uint8Array {
  const out = new Uint8Array(48 + message.length);
  out[0] = 0x60;
  const length = 8 + message.length;
  out[4] = length >> 8;
  out[5] = length & 0xff;
  out[6] = 0; // hop-by-hop
  out[7] = 1; // hop limit 1 (RFC 3810 5)
  const src = ip(source).bytes;
  const dst = ip(destination).bytes;
  out.set(src, 8);
  out.set(dst, 24);
  out.set([58, 0, 0x05, 0x02, 0x00, 0x00, 0x01, 0x00], 40); // next: ICMPv6; Router Alert (value 0: MLD); PadN
  const m = message.slice();
  m[2] = m[3] = 0;
  const sum = icmp6Checksum(src, dst, m);
  m[2] = sum >> 8;
  m[3] = sum & 0xff;
  out.set(m, 48);
  return out;
}

/** Reads an IPv6 address at off (canonical text). */
export function ipv6At(buf: Uint8Array, off: number): string {
  return formatIp({ family: 6, bytes: buf.slice(off, off + 16) } as IpAddress);
}

/** Reads an IPv4 address at off. */
export function ipv4At(buf: Uint8Array, off: number): string {
  return addressText(buf.subarray(off, off + 4));
}

/** Compares two addresses of one family numerically (negative: a is lower). */
export function compareAddress(a: string, b: string): number {
  const ab = ip(a).bytes;
  const bb = ip(b).bytes;
  for (let i = 0; i < ab.length; i++) if (ab[i] !== bb[i]) return ab[i] - bb[i];
  return 0;
}
