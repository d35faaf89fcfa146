/**
 * Hand-made Ethernet/IPv6/UDP frames for data-path tests, with the UDP
 * checksum computed by the byte-at-a-time reference in frames.ts, and a
 * verifier for relayed IPv6 frames. Addresses are parsed here, not with
 * src/net/address.ts, so a parsing bug there cannot hide in both.
 */
import { ethernetFrame, get16, onesSum, put16 } from "./frames.ts";

export const ETHERTYPE_IPV6 = 0x86dd;

/** "2001:db8::1" -> 16 bytes (full and :: forms; no embedded IPv4). */
export function ipv6Bytes(text: string): Uint8Array {
  const [head, tail] = text.includes("::") ? text.split("::") : [text, null];
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = tail === null ? h : [...h, ...new Array(8 - h.length - t.length).fill("0"), ...t];
  if (groups.length !== 8) throw new Error(`ipv6Bytes(): "${text}"`);
  const out = new Uint8Array(16);
  groups.forEach((g, i) => put16(out, 2 * i, parseInt(g, 16)));
  return out;
}

/** The Ethernet MAC of an IPv6 group: 33:33 and its low 32 bits. */
export function multicastMac6(group: string): number[] {
  const b = ipv6Bytes(group);
  return [0x33, 0x33, b[12], b[13], b[14], b[15]];
}

export interface Udp6FrameOptions {
  src?: string;
  dst?: string;
  srcPort?: number;
  dstPort?: number;
  payload?: number;
  hopLimit?: number;
  trafficClass?: number;
  flowLabel?: number;
  /** Extension headers before UDP (or the fragment header), each 8 * (1 + lengthUnits) bytes. */
  extensions?: { type: 0 | 43 | 60; lengthUnits?: number }[];
  /** Adds a fragment header: offset in bytes (multiple of 8), more fragments flag. */
  fragment?: { offset: number; more: boolean; id?: number };
  /** Replaces the computed UDP checksum (e.g. 0). */
  udpChecksum?: number;
  vlanIds?: number[];
}

/** UDP checksum over IPv6 (pseudo header: addresses, upper-layer length, next header 17). */
export function udp6Checksum(src: Uint8Array, dst: Uint8Array, udp: Uint8Array): number {
  const pseudo = new Uint8Array(40);
  pseudo.set(src, 0);
  pseudo.set(dst, 16);
  put16(pseudo, 34, udp.length);
  pseudo[39] = 17;
  const sum = onesSum(udp, 0, udp.length, onesSum(pseudo, 0, 40));
  const c = 0xffff - sum;
  return c === 0 ? 0xffff : c;
}

/** An Ethernet/IPv6[/extensions]/UDP frame; the payload is bytes 0, 1, 2, ... */
export function udp6Frame(o: Udp6FrameOptions = {}): Uint8Array {
  const src = ipv6Bytes(o.src ?? "2001:db8::1");
  const dst = ipv6Bytes(o.dst ?? "ff3e::1:1");
  const payload = o.payload ?? 32;
  const udp = new Uint8Array(8 + payload);
  put16(udp, 0, o.srcPort ?? 40000);
  put16(udp, 2, o.dstPort ?? 5001);
  put16(udp, 4, udp.length);
  for (let i = 0; i < payload; i++) udp[8 + i] = i & 0xff;
  put16(udp, 6, o.udpChecksum ?? udp6Checksum(src, dst, udp));

  const exts = o.extensions ?? [];
  const headers: Uint8Array[] = [];
  const types: number[] = [];
  for (const e of exts) {
    headers.push(new Uint8Array(8 * (1 + (e.lengthUnits ?? 0))));
    types.push(e.type);
  }
  if (o.fragment) {
    headers.push(new Uint8Array(8));
    types.push(44);
  }
  // Chain the next-header fields: each header names the one after it.
  headers.forEach((h, i) => {
    h[0] = i + 1 < types.length ? types[i + 1] : 17;
    if (types[i] !== 44) h[1] = h.length / 8 - 1;
  });
  if (o.fragment) {
    const f = headers[headers.length - 1];
    put16(f, 2, (o.fragment.offset & ~7) | (o.fragment.more ? 1 : 0));
    new DataView(f.buffer).setUint32(4, o.fragment.id ?? 0x1234);
  }
  // A later fragment carries data, not the UDP header.
  const body = o.fragment && o.fragment.offset !== 0 ? udp.subarray(8) : udp;
  const extLen = headers.reduce((n, h) => n + h.length, 0);
  const ip = new Uint8Array(40 + extLen + body.length);
  const dv = new DataView(ip.buffer);
  dv.setUint32(0, ((6 << 28) | ((o.trafficClass ?? 0) << 20) | (o.flowLabel ?? 0)) >>> 0);
  put16(ip, 4, extLen + body.length);
  ip[6] = types.length ? types[0] : 17;
  ip[7] = o.hopLimit ?? 64;
  ip.set(src, 8);
  ip.set(dst, 24);
  let at = 40;
  for (const h of headers) {
    ip.set(h, at);
    at += h.length;
  }
  ip.set(body, at);
  return ethernetFrame(ETHERTYPE_IPV6, ip, {
    dstMac: multicastMac6(o.dst ?? "ff3e::1:1"),
    vlanIds: o.vlanIds,
  });
}

/** What a relayed IPv6 frame holds, decoded (and what is wrong with it). */
export interface Decoded6 {
  problems: string[];
  dstMac: number[];
  trafficClass: number;
  flowLabel: number;
  hopLimit: number;
  nextHeader: number;
  src: Uint8Array;
  dst: Uint8Array;
  dstPort: number;
  udpLength: number;
  payload: Uint8Array;
}

/** Decodes an untagged Ethernet/IPv6/UDP frame and checks lengths and the UDP checksum. */
export function decode6(f: Uint8Array): Decoded6 {
  const problems: string[] = [];
  if (get16(f, 12) !== ETHERTYPE_IPV6) problems.push(`ethertype 0x${get16(f, 12).toString(16)}`);
  const ip = 14;
  const dv = new DataView(f.buffer, f.byteOffset, f.byteLength);
  const first = dv.getUint32(ip);
  if (first >>> 28 !== 6) problems.push("version is not 6");
  const payloadLength = get16(f, ip + 4);
  if (14 + 40 + payloadLength !== f.length) {
    problems.push(`payload length ${payloadLength} != frame ${f.length - 54}`);
  }
  const src = f.slice(ip + 8, ip + 24);
  const dst = f.slice(ip + 24, ip + 40);
  let udp = ip + 40;
  if (f[ip + 6] === 44) udp += 8;
  const udpLength = get16(f, udp + 4);
  const udpBytes = f.slice(udp, udp + udpLength);
  if (f[ip + 6] === 17) {
    const field = get16(f, udp + 6);
    const zeroed = udpBytes.slice();
    put16(zeroed, 6, 0);
    const want = udp6Checksum(src, dst, zeroed);
    if (field !== want) {
      problems.push(`UDP checksum 0x${field.toString(16)}, expected 0x${want.toString(16)}`);
    }
  }
  return {
    problems,
    dstMac: [...f.slice(0, 6)],
    trafficClass: (first >>> 20) & 0xff,
    flowLabel: first & 0xfffff,
    hopLimit: f[ip + 7],
    nextHeader: f[ip + 6],
    src,
    dst,
    dstPort: get16(f, udp + 2),
    udpLength,
    payload: f.slice(udp + 8, udp + udpLength),
  };
}
