/**
 * Hand-made Ethernet/IPv4/UDP frames for data-path tests, and an
 * independent reference for what a correct frame is.
 *
 * Nothing here imports src/dataplane: the checksum below is a plain byte
 * loop written from RFC 1071, and verifyFrame()/decodeFrame()/
 * expectedRewrite() model the wire format on their own, so a bug in the data
 * path cannot hide behind the same bug in its test oracle.
 *
 * Offsets used below (bytes): Ethernet dst MAC 0, src MAC 6, ethertype 12;
 * an 802.1Q tag is 4 bytes (TPID 0x8100, TCI) before the inner ethertype.
 * IPv4: version/IHL 0, TOS 1, total length 2, id 4, flags/fragment 6, TTL 8,
 * protocol 9, header checksum 10, source 12, destination 16, options 20...
 * UDP: source port 0, destination port 2, length 4, checksum 6.
 */
import fc from "fast-check";

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_IPV6 = 0x86dd;
export const ETHERTYPE_VLAN = 0x8100;
export const ETHERTYPE_QINQ = 0x88a8;
export const IPPROTO_UDP = 17;
export const IPPROTO_TCP = 6;
export const IPPROTO_ICMP = 1;

/** Source MAC used when a test does not care. */
export const SENDER_MAC: readonly number[] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x01];

// ---- reference checksum (RFC 1071, one byte at a time) ------------------------

/**
 * Ones'-complement sum of bytes [start, end) read as big-endian 16-bit words
 * (an odd last byte is the high half of a zero-padded word), added to
 * `initial`, folded to 16 bits.
 */
export function onesSum(bytes: Uint8Array, start: number, end: number, initial = 0): number {
  let sum = initial;
  for (let i = start; i < end; i += 2) {
    const high = bytes[i];
    const low = i + 1 < end ? bytes[i + 1] : 0;
    sum += high * 256 + low;
    while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

/** The Internet checksum of [start, end): the complement of onesSum(). */
export function internetChecksum(
  bytes: Uint8Array,
  start: number,
  end: number,
  initial = 0,
): number {
  return 0xffff - onesSum(bytes, start, end, initial);
}

/** Sum of the IPv4 pseudo header used by UDP (source, destination, zero+protocol 17, UDP length). */
export function pseudoHeaderSum(src: number, dst: number, udpLength: number): number {
  const words = [src >>> 16, src & 0xffff, dst >>> 16, dst & 0xffff, IPPROTO_UDP, udpLength];
  let sum = 0;
  for (const w of words) sum += w;
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

// ---- addresses ---------------------------------------------------------------

/** "a.b.c.d" -> unsigned 32-bit number (written here, not imported, on purpose). */
export function ipv4(text: string): number {
  const parts = text.split(".").map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) {
    throw new Error(`ipv4(): "${text}" is not a dotted-quad IPv4 address`);
  }
  return ((parts[0] * 256 + parts[1]) * 256 + parts[2]) * 256 + parts[3];
}

/** Unsigned 32-bit number -> "a.b.c.d". */
export function ipv4Text(n: number): string {
  const u = n >>> 0;
  return `${u >>> 24}.${(u >>> 16) & 255}.${(u >>> 8) & 255}.${u & 255}`;
}

/** "aa:bb:cc:dd:ee:ff" formatting of six bytes. */
export function macText(bytes: ArrayLike<number>): string {
  return Array.from({ length: 6 }, (_, i) => bytes[i].toString(16).padStart(2, "0")).join(":");
}

/** The Ethernet multicast MAC of an IPv4 group (RFC 1112): 01:00:5e + low 23 bits. */
export function multicastMac(group: number): number[] {
  const g = group >>> 0;
  return [0x01, 0x00, 0x5e, (g >>> 16) & 0x7f, (g >>> 8) & 0xff, g & 0xff];
}

// ---- builders ----------------------------------------------------------------

/** Everything a built frame can vary; every field has a plain default. */
export interface UdpFrameOptions {
  dstMac?: readonly number[];
  srcMac?: readonly number[];
  /** 802.1Q VLAN ids, outermost first; [] or absent: untagged. */
  vlanIds?: readonly number[];
  /** TPID of the outermost tag (default 0x8100; 0x88a8 for QinQ). */
  outerTpid?: number;
  src?: string;
  dst?: string;
  srcPort?: number;
  dstPort?: number;
  ttl?: number;
  tos?: number;
  id?: number;
  /** IPv4 options (length a multiple of 4, at most 40 bytes: IHL 5..15). */
  ipOptions?: Uint8Array;
  /** UDP payload bytes, or a length (filled with a counting pattern). */
  payload?: Uint8Array | number;
  dontFragment?: boolean;
  moreFragments?: boolean;
  /** Fragment offset in 8-byte units; > 0 makes a later fragment (no UDP header). */
  fragmentOffset?: number;
  /** UDP length field (default: the real length). A first fragment's covers the whole datagram. */
  udpLength?: number;
  /** IPv4 protocol (default UDP); with another value the UDP bytes are just payload. */
  protocol?: number;
  /**
   * "valid": a finished checksum; "none": 0 (sender sent none); "partial":
   * the folded pseudo-header sum, as Linux leaves it for TX checksum offload
   * (the receiver sees TP_STATUS_CSUMNOTREADY).
   */
  udpChecksum?: "valid" | "none" | "partial";
  /** Bytes appended after the IPv4 packet (Ethernet padding). */
  ethernetPadding?: number;
}

/** A counting byte pattern: payload byte i is (i * 7 + 3) & 0xff. */
export function patternPayload(length: number): Uint8Array {
  const p = new Uint8Array(length);
  for (let i = 0; i < length; i++) p[i] = (i * 7 + 3) & 0xff;
  return p;
}

/** Ethernet header (with optional 802.1Q tags) followed by `payload`. */
export function ethernetFrame(
  ethertype: number,
  payload: Uint8Array,
  opts: {
    dstMac?: readonly number[];
    srcMac?: readonly number[];
    vlanIds?: readonly number[];
    outerTpid?: number;
  } = {},
): Uint8Array {
  const tags = opts.vlanIds ?? [];
  const head = 12 + tags.length * 4 + 2;
  const frame = new Uint8Array(head + payload.length);
  frame.set(opts.dstMac ?? multicastMac(ipv4("239.1.1.1")), 0);
  frame.set(opts.srcMac ?? SENDER_MAC, 6);
  let p = 12;
  tags.forEach((vid, i) => {
    const tpid = i === 0 ? (opts.outerTpid ?? ETHERTYPE_VLAN) : ETHERTYPE_VLAN;
    put16(frame, p, tpid);
    put16(frame, p + 2, vid & 0x0fff);
    p += 4;
  });
  put16(frame, p, ethertype);
  frame.set(payload, head);
  return frame;
}

/** An IPv4/UDP frame built from `opts`, checksums computed by the reference above. */
export function udpFrame(opts: UdpFrameOptions = {}): Uint8Array {
  const options = opts.ipOptions ?? new Uint8Array(0);
  if (options.length % 4 !== 0 || options.length > 40) {
    throw new Error(
      `udpFrame(): ipOptions must be 0..40 bytes in multiples of 4, got ${options.length}`,
    );
  }
  const payload = typeof opts.payload === "number"
    ? patternPayload(opts.payload)
    : (opts.payload ?? patternPayload(32));
  const protocol = opts.protocol ?? IPPROTO_UDP;
  const laterFragment = (opts.fragmentOffset ?? 0) > 0;
  const withUdpHeader = protocol === IPPROTO_UDP && !laterFragment;
  const ihl = 20 + options.length;
  const l4Length = (withUdpHeader ? 8 : 0) + payload.length;
  const total = ihl + l4Length;
  const ip = new Uint8Array(total + (opts.ethernetPadding ?? 0));
  const src = ipv4(opts.src ?? "10.0.0.1");
  const dst = ipv4(opts.dst ?? "239.1.1.1");

  ip[0] = 0x40 | (ihl / 4);
  ip[1] = opts.tos ?? 0;
  put16(ip, 2, total);
  put16(ip, 4, opts.id ?? 0x1234);
  const flags = (opts.dontFragment ? 0x4000 : 0) | (opts.moreFragments ? 0x2000 : 0);
  put16(ip, 6, flags | ((opts.fragmentOffset ?? 0) & 0x1fff));
  ip[8] = opts.ttl ?? 32;
  ip[9] = protocol;
  put32(ip, 12, src);
  put32(ip, 16, dst);
  ip.set(options, 20);
  put16(ip, 10, internetChecksum(ip, 0, ihl));

  if (withUdpHeader) {
    const u = ihl;
    put16(ip, u, opts.srcPort ?? 40000);
    put16(ip, u + 2, opts.dstPort ?? 5001);
    put16(ip, u + 4, opts.udpLength ?? l4Length);
    ip.set(payload, u + 8);
    const mode = opts.udpChecksum ?? "valid";
    if (mode === "valid") {
      const c = internetChecksum(ip, u, u + l4Length, pseudoHeaderSum(src, dst, l4Length));
      put16(ip, u + 6, c === 0 ? 0xffff : c);
    } else if (mode === "partial") {
      put16(ip, u + 6, pseudoHeaderSum(src, dst, l4Length));
    }
  } else {
    ip.set(payload, ihl);
  }
  return ethernetFrame(ETHERTYPE_IPV4, ip, {
    dstMac: opts.dstMac ?? multicastMac(dst),
    srcMac: opts.srcMac,
    vlanIds: opts.vlanIds,
    outerTpid: opts.outerTpid,
  });
}

/** An ARP request frame (ethertype 0x0806). */
export function arpFrame(): Uint8Array {
  const arp = new Uint8Array(28);
  put16(arp, 0, 1); // hardware type Ethernet
  put16(arp, 2, ETHERTYPE_IPV4);
  arp[4] = 6;
  arp[5] = 4;
  put16(arp, 6, 1); // request
  return ethernetFrame(ETHERTYPE_ARP, arp, { dstMac: [0xff, 0xff, 0xff, 0xff, 0xff, 0xff] });
}

/** A minimal IPv6/UDP-looking frame (ethertype 0x86dd, version 6). */
export function ipv6Frame(): Uint8Array {
  const ip6 = new Uint8Array(40 + 8 + 16);
  ip6[0] = 0x60;
  put16(ip6, 4, 24);
  ip6[6] = IPPROTO_UDP;
  ip6[7] = 64;
  return ethernetFrame(ETHERTYPE_IPV6, ip6, { dstMac: [0x33, 0x33, 0, 0, 0, 1] });
}

// ---- byte editing --------------------------------------------------------------

/** Writes a big-endian 16-bit value. */
export function put16(bytes: Uint8Array, off: number, value: number): void {
  bytes[off] = (value >>> 8) & 0xff;
  bytes[off + 1] = value & 0xff;
}

/** Writes a big-endian 32-bit value. */
export function put32(bytes: Uint8Array, off: number, value: number): void {
  put16(bytes, off, (value >>> 16) & 0xffff);
  put16(bytes, off + 2, value & 0xffff);
}

/** Reads a big-endian 16-bit value. */
export function get16(bytes: Uint8Array, off: number): number {
  return bytes[off] * 256 + bytes[off + 1];
}

/** Reads a big-endian 32-bit value (unsigned). */
export function get32(bytes: Uint8Array, off: number): number {
  return get16(bytes, off) * 0x10000 + get16(bytes, off + 2);
}

/** Offset of the IPv4 header: after the Ethernet header and any 802.1Q/QinQ tags. */
export function ipOffset(frame: Uint8Array): number {
  let p = 12;
  while (
    p + 2 <= frame.length &&
    (get16(frame, p) === ETHERTYPE_VLAN || get16(frame, p) === ETHERTYPE_QINQ)
  ) p += 4;
  return p + 2;
}

/** Offset of the UDP header (IPv4 header offset + IHL * 4). */
export function udpOffset(frame: Uint8Array): number {
  const ip = ipOffset(frame);
  return ip + (frame[ip] & 0x0f) * 4;
}

/** Recomputes the IPv4 header checksum in place (for frames edited after building). */
export function fixIpChecksum(frame: Uint8Array): Uint8Array {
  const ip = ipOffset(frame);
  const ihl = (frame[ip] & 0x0f) * 4;
  put16(frame, ip + 10, 0);
  put16(frame, ip + 10, internetChecksum(frame, ip, ip + ihl));
  return frame;
}

/** A copy of `frame` with fn applied to it (for one-line mutations in tests). */
export function edited(frame: Uint8Array, fn: (copy: Uint8Array, ip: number) => void): Uint8Array {
  const copy = frame.slice();
  fn(copy, ipOffset(copy));
  return copy;
}

/**
 * Splits an unfragmented IPv4 frame into two fragments: the first carries
 * `firstBytes` of the IP payload (a multiple of 8) with MF set, the second
 * the rest at offset firstBytes / 8. Both get valid header checksums.
 */
export function fragmentFrame(frame: Uint8Array, firstBytes: number): [Uint8Array, Uint8Array] {
  if (firstBytes % 8 !== 0) {
    throw new Error(`fragmentFrame(): firstBytes must be a multiple of 8, got ${firstBytes}`);
  }
  const ip = ipOffset(frame);
  const ihl = (frame[ip] & 0x0f) * 4;
  const total = get16(frame, ip + 2);
  const payload = frame.subarray(ip + ihl, ip + total);
  const make = (start: number, end: number, more: boolean): Uint8Array => {
    const f = new Uint8Array(ip + ihl + (end - start));
    f.set(frame.subarray(0, ip + ihl), 0);
    f.set(payload.subarray(start, end), ip + ihl);
    put16(f, ip + 2, ihl + end - start);
    put16(f, ip + 6, (get16(frame, ip + 6) & 0x4000) | (more ? 0x2000 : 0) | (start / 8));
    return fixIpChecksum(f);
  };
  return [make(0, firstBytes, true), make(firstBytes, payload.length, false)];
}

/**
 * Reassembles fragments (any order) into one unfragmented frame, taking the
 * Ethernet and IP headers from the fragment at offset 0. For checking that
 * a relayed datagram's UDP checksum still verifies end to end.
 */
export function reassemble(fragments: readonly Uint8Array[]): Uint8Array {
  const parts = fragments.map((f) => {
    const ip = ipOffset(f);
    const ihl = (f[ip] & 0x0f) * 4;
    return {
      f,
      ip,
      ihl,
      offset: (get16(f, ip + 6) & 0x1fff) * 8,
      data: f.subarray(ip + ihl, ip + get16(f, ip + 2)),
    };
  }).sort((a, b) => a.offset - b.offset);
  const first = parts[0];
  const length = parts.reduce((n, p) => Math.max(n, p.offset + p.data.length), 0);
  const out = new Uint8Array(first.ip + first.ihl + length);
  out.set(first.f.subarray(0, first.ip + first.ihl), 0);
  for (const p of parts) out.set(p.data, first.ip + first.ihl + p.offset);
  put16(out, first.ip + 2, first.ihl + length);
  put16(out, first.ip + 6, get16(out, first.ip + 6) & 0x4000);
  return fixIpChecksum(out);
}

// ---- decoding and verification --------------------------------------------------

/** A frame's fields as read by the reference decoder. */
export interface DecodedFrame {
  dstMac: string;
  srcMac: string;
  vlanIds: number[];
  ethertype: number;
  ip?: {
    version: number;
    ihl: number;
    tos: number;
    totalLength: number;
    id: number;
    flags: number;
    fragmentOffset: number;
    ttl: number;
    protocol: number;
    checksum: number;
    src: string;
    dst: string;
    options: Uint8Array;
  };
  udp?: { srcPort: number; dstPort: number; length: number; checksum: number };
  /** UDP payload (UDP length - 8 bytes), or the IP payload of a non-UDP packet or later fragment. */
  payload?: Uint8Array;
}

/** Decodes what is there; stops quietly at the first missing or malformed layer. */
export function decodeFrame(frame: Uint8Array): DecodedFrame {
  const d: DecodedFrame = { dstMac: "", srcMac: "", vlanIds: [], ethertype: 0 };
  if (frame.length < 14) return d;
  d.dstMac = macText(frame.subarray(0, 6));
  d.srcMac = macText(frame.subarray(6, 12));
  let p = 12;
  while (
    p + 6 <= frame.length &&
    (get16(frame, p) === ETHERTYPE_VLAN || get16(frame, p) === ETHERTYPE_QINQ)
  ) {
    d.vlanIds.push(get16(frame, p + 2) & 0x0fff);
    p += 4;
  }
  d.ethertype = get16(frame, p);
  const ip = p + 2;
  if (d.ethertype !== ETHERTYPE_IPV4 || ip + 20 > frame.length) return d;
  const ihl = (frame[ip] & 0x0f) * 4;
  const totalLength = get16(frame, ip + 2);
  d.ip = {
    version: frame[ip] >> 4,
    ihl,
    tos: frame[ip + 1],
    totalLength,
    id: get16(frame, ip + 4),
    flags: frame[ip + 6] >> 5,
    fragmentOffset: get16(frame, ip + 6) & 0x1fff,
    ttl: frame[ip + 8],
    protocol: frame[ip + 9],
    checksum: get16(frame, ip + 10),
    src: ipv4Text(get32(frame, ip + 12)),
    dst: ipv4Text(get32(frame, ip + 16)),
    options: frame.slice(ip + 20, Math.min(ip + Math.max(ihl, 20), frame.length)),
  };
  const end = Math.min(ip + totalLength, frame.length);
  const l4 = ip + ihl;
  if (ihl < 20 || l4 > end) return d;
  if (d.ip.protocol === IPPROTO_UDP && d.ip.fragmentOffset === 0 && l4 + 8 <= end) {
    d.udp = {
      srcPort: get16(frame, l4),
      dstPort: get16(frame, l4 + 2),
      length: get16(frame, l4 + 4),
      checksum: get16(frame, l4 + 6),
    };
    d.payload = frame.slice(l4 + 8, Math.min(l4 + Math.max(d.udp.length, 8), end));
  } else {
    d.payload = frame.slice(l4, end);
  }
  return d;
}

/**
 * Checks a frame the way a receiving host would: Ethernet (with any tags),
 * IPv4 version, IHL, total length within the frame, the header checksum,
 * and for UDP (unfragmented) the length and the checksum over the pseudo
 * header (0 means "none sent" and is accepted). A first fragment's UDP
 * checksum covers the whole datagram and cannot be checked here.
 * Returns the problems found; [] means valid.
 */
export function verifyFrame(frame: Uint8Array): string[] {
  const problems: string[] = [];
  if (frame.length < 14) return [`frame is ${frame.length} bytes, shorter than an Ethernet header`];
  const ip = ipOffset(frame);
  if (ip + 20 > frame.length) return [`frame too short for an IPv4 header at ${ip}`];
  if (get16(frame, ip - 2) !== ETHERTYPE_IPV4) {
    return [`ethertype 0x${get16(frame, ip - 2).toString(16)} is not IPv4`];
  }
  if (frame[ip] >> 4 !== 4) problems.push(`IP version ${frame[ip] >> 4}`);
  const ihl = (frame[ip] & 0x0f) * 4;
  if (ihl < 20) return [...problems, `IHL ${ihl / 4} < 5`];
  const total = get16(frame, ip + 2);
  if (total < ihl) return [...problems, `total length ${total} < header length ${ihl}`];
  if (ip + total > frame.length) {
    return [...problems, `total length ${total} exceeds the frame (${frame.length - ip})`];
  }
  if (onesSum(frame, ip, ip + ihl) !== 0xffff) {
    problems.push(`IPv4 header checksum 0x${get16(frame, ip + 10).toString(16)} is wrong`);
  }
  if (frame[ip + 9] !== IPPROTO_UDP) return problems;
  const fragment = get16(frame, ip + 6);
  if ((fragment & 0x1fff) !== 0 || (fragment & 0x2000) !== 0) return problems; // fragment: no whole datagram
  const u = ip + ihl;
  if (total - ihl < 8) {
    return [...problems, `IP payload ${total - ihl} bytes, shorter than a UDP header`];
  }
  const udpLength = get16(frame, u + 4);
  if (udpLength < 8 || udpLength > total - ihl) {
    return [...problems, `UDP length ${udpLength} does not fit the IP payload (${total - ihl})`];
  }
  if (get16(frame, u + 6) !== 0) {
    const pseudo = pseudoHeaderSum(get32(frame, ip + 12), get32(frame, ip + 16), udpLength);
    if (onesSum(frame, u, u + udpLength, pseudo) !== 0xffff) {
      problems.push(`UDP checksum 0x${get16(frame, u + 6).toString(16)} is wrong`);
    }
  }
  return problems;
}

/** True when the frame has a UDP checksum (non-zero) that verifies. */
export function udpChecksumValid(frame: Uint8Array): boolean {
  const u = udpOffset(frame);
  return get16(frame, u + 6) !== 0 && verifyFrame(frame).length === 0;
}

/** What one output does to a frame (the reference model of rewrite.ts). */
export interface RewriteSpec {
  srcMac: readonly number[];
  src: string;
  group: string;
  port: number;
  ttl: number;
  /** DSCP (0..63), or undefined to keep the TOS byte. ECN (low 2 bits) is always kept. */
  dscp?: number;
}

/**
 * The frame an output should send for a valid input: VLAN tags
 * dropped, group MAC and the output's MAC, the IPv4 packet (options kept,
 * Ethernet padding dropped) with new TOS/TTL/addresses and header checksum,
 * the new UDP destination port, and a UDP checksum recomputed in full (0
 * stays 0: the sender sent none). Fragments: a later one gets only the IPv4
 * changes; a first one also the new port, its UDP checksum field unchanged.
 */
export function expectedRewrite(input: Uint8Array, spec: RewriteSpec): Uint8Array {
  const ip = ipOffset(input);
  const total = get16(input, ip + 2);
  const ihl = (input[ip] & 0x0f) * 4;
  const out = new Uint8Array(14 + total);
  out.set(multicastMac(ipv4(spec.group)), 0);
  out.set(spec.srcMac, 6);
  put16(out, 12, ETHERTYPE_IPV4);
  out.set(input.subarray(ip, ip + total), 14);
  const o = 14;
  if (spec.dscp !== undefined) out[o + 1] = (spec.dscp << 2) | (out[o + 1] & 0x03);
  out[o + 8] = spec.ttl;
  put32(out, o + 12, ipv4(spec.src));
  put32(out, o + 16, ipv4(spec.group));
  put16(out, o + 10, 0);
  put16(out, o + 10, internetChecksum(out, o, o + ihl));
  const fragment = get16(input, ip + 6);
  if ((fragment & 0x1fff) !== 0) return out; // a later fragment has no UDP header
  const u = o + ihl;
  put16(out, u + 2, spec.port);
  // A first fragment's checksum covers the whole datagram: left as it was
  // here; check it after reassembly.
  if (get16(input, ip + ihl + 6) !== 0 && (fragment & 0x2000) === 0) {
    const udpLength = get16(out, u + 4);
    put16(out, u + 6, 0);
    const c = internetChecksum(
      out,
      u,
      u + udpLength,
      pseudoHeaderSum(ipv4(spec.src), ipv4(spec.group), udpLength),
    );
    put16(out, u + 6, c === 0 ? 0xffff : c);
  }
  return out;
}

// ---- hex fixtures and diffs -------------------------------------------------------

/** Hex text -> bytes; ignores whitespace and `#` comments to the end of a line. */
export function fromHex(text: string): Uint8Array {
  const clean = text.replace(/#.*$/gm, "").replace(/\s+/g, "");
  if (clean.length % 2 !== 0 || /[^0-9a-fA-F]/.test(clean)) {
    throw new Error("fromHex(): not an even run of hex digits");
  }
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** Bytes -> hex text, 16 bytes a line. */
export function toHex(bytes: Uint8Array): string {
  const lines: string[] = [];
  for (let i = 0; i < bytes.length; i += 16) {
    lines.push(
      Array.from(bytes.subarray(i, i + 16), (b) => b.toString(16).padStart(2, "0")).join(" "),
    );
  }
  return lines.join("\n");
}

/** Reads tests/fixtures/frames/<name>.hex. */
export function readFixture(name: string): Uint8Array {
  return fromHex(Deno.readTextFileSync(new URL(`../fixtures/frames/${name}.hex`, import.meta.url)));
}

/**
 * A hexdump of both frames, 16 bytes a line, marking the lines that differ
 * (Snabb's Match app style); "" when they are equal.
 */
export function hexDiff(actual: Uint8Array, expected: Uint8Array): string {
  const lines: string[] = [];
  let differs = actual.length !== expected.length;
  const n = Math.max(actual.length, expected.length);
  for (let i = 0; i < n; i += 16) {
    const a = Array.from(actual.subarray(i, i + 16), (b) => b.toString(16).padStart(2, "0")).join(
      " ",
    );
    const e = Array.from(expected.subarray(i, i + 16), (b) => b.toString(16).padStart(2, "0")).join(
      " ",
    );
    const mark = a === e ? " " : "!";
    if (a !== e) differs = true;
    lines.push(`${mark} ${i.toString(16).padStart(4, "0")}  ${a.padEnd(47)}  |  ${e}`);
  }
  if (!differs) return "";
  return [`actual ${actual.length} bytes  |  expected ${expected.length} bytes`, ...lines].join(
    "\n",
  );
}

// ---- fast-check arbitraries ----------------------------------------------------------

/** A random IPv4 address as text. */
export function arbAddress(): fc.Arbitrary<string> {
  return fc.integer({ min: 0, max: 0xffffffff }).map(ipv4Text);
}

/** A random IPv4 multicast group (224.0.0.0/4) as text. */
export function arbGroup(): fc.Arbitrary<string> {
  return fc.integer({ min: 0xe0000000, max: 0xefffffff }).map(ipv4Text);
}

/**
 * Options of a random valid, unfragmented UDP frame: untagged or one 802.1Q
 * tag, IHL 5..15 with random option bytes, TOS/TTL/id, payload 0..1400 bytes,
 * a finished, absent or partial (offload) UDP checksum, Ethernet padding.
 */
export function arbUdpFrameOptions(): fc.Arbitrary<UdpFrameOptions> {
  return fc.record({
    vlanIds: fc.oneof(fc.constant([] as number[]), fc.tuple(fc.integer({ min: 0, max: 4095 }))),
    srcMac: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 6, maxLength: 6 }),
    src: arbAddress(),
    dst: arbGroup(),
    srcPort: fc.integer({ min: 0, max: 65535 }),
    dstPort: fc.integer({ min: 1, max: 65535 }),
    ttl: fc.integer({ min: 0, max: 255 }),
    tos: fc.integer({ min: 0, max: 255 }),
    id: fc.integer({ min: 0, max: 65535 }),
    dontFragment: fc.boolean(),
    ipOptions: fc.integer({ min: 0, max: 10 }).chain((words) =>
      fc.uint8Array({ minLength: words * 4, maxLength: words * 4 })
    ),
    payload: fc.uint8Array({ minLength: 0, maxLength: 1400 }),
    udpChecksum: fc.constantFrom(
      "valid" as const,
      "valid" as const,
      "none" as const,
      "partial" as const,
    ),
    ethernetPadding: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 20 })),
  });
}

/** A random output: MAC, source address, group, port, TTL and optional DSCP. */
export function arbRewriteSpec(): fc.Arbitrary<RewriteSpec> {
  return fc.record({
    srcMac: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 6, maxLength: 6 }),
    src: arbAddress(),
    group: arbGroup(),
    port: fc.integer({ min: 1, max: 65535 }),
    ttl: fc.integer({ min: 1, max: 255 }),
    dscp: fc.option(fc.integer({ min: 0, max: 63 }), { nil: undefined }),
  });
}
