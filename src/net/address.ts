/**
 * IP addresses of either family as the control plane handles them: parsed
 * from text once, then carried as bytes (network order) for the native
 * library and as 32-bit words for the data path. Pure; no allocation in any
 * per-packet path (nothing here is called per packet).
 */

export type Family = 4 | 6;

/** An IPv4 (4 bytes) or IPv6 (16 bytes) address in network byte order. */
export interface IpAddress {
  readonly family: Family;
  readonly bytes: Uint8Array;
}

function parseV4Bytes(text: string): number[] | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  const out: number[] = [];
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || +p > 255) return null;
    out.push(+p);
  }
  return out;
}

function parseV6Bytes(text: string): number[] | null {
  if (text.includes("%")) return null; // zone ids name a link, not an address
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const words = (part: string): number[] | null => {
    if (part === "") return [];
    const out: number[] = [];
    const groups = part.split(":");
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i];
      if (i === groups.length - 1 && g.includes(".")) {
        const v4 = parseV4Bytes(g);
        if (!v4) return null;
        out.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
        out.push(parseInt(g, 16));
      }
    }
    return out;
  };
  const head = words(halves[0]);
  const tail = halves.length === 2 ? words(halves[1]) : [];
  if (!head || !tail) return null;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  const all = [...head, ...new Array(halves.length === 2 ? missing : 0).fill(0), ...tail];
  return all.flatMap((w) => [w >> 8, w & 255]);
}

/** Parses dotted-quad IPv4 or IPv6 text; null when it is neither. */
/**
 * Parsed addresses by text. A configuration of 10,000 rules names the same
 * few thousand addresses in every validation and plan; parsing them once
 * keeps a rule change linear and cheap. Bounded: cleared when full.
 */
const parsed = new Map<string, { family: Family; bytes: number[] } | null>();
const PARSED_MAX = 65536;

export function parseIp(text: string): IpAddress | null {
  let hit = parsed.get(text);
  if (hit === undefined) {
    const v6 = text.includes(":");
    const b = v6 ? parseV6Bytes(text) : parseV4Bytes(text);
    hit = b ? { family: v6 ? 6 : 4, bytes: [...b] } : null;
    if (parsed.size >= PARSED_MAX) parsed.clear();
    parsed.set(text, hit);
  }
  // A fresh array every time: callers may keep or change it.
  return hit ? { family: hit.family, bytes: new Uint8Array(hit.bytes) } : null;
}

/** Like parseIp, for text already validated by the schema. */
export function ip(text: string): IpAddress {
  const a = parseIp(text);
  if (!a) throw new Error(`not an IP address: "${text}"`);
  return a;
}

/** The family of an address text (4 when it has no colon). */
export function familyOf(text: string): Family {
  return text.includes(":") ? 6 : 4;
}

/** Canonical text: dotted quad, or RFC 5952 IPv6 (lowercase, longest zero run as ::). */
export function formatIp(a: IpAddress): string {
  const b = a.bytes;
  if (a.family === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  const w: number[] = [];
  for (let i = 0; i < 16; i += 2) w.push((b[i] << 8) | b[i + 1]);
  let bestStart = -1;
  let bestLen = 1; // a single zero word is not compressed
  for (let i = 0; i < 8;) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (xs: number[]) => xs.map((x) => x.toString(16)).join(":");
  if (bestStart < 0) return hex(w);
  return `${hex(w.slice(0, bestStart))}::${hex(w.slice(bestStart + bestLen))}`;
}

/**
 * Canonical text of an address text, or the text itself when it is not an
 * address. Memoised (strings only, nothing mutable is shared): checking and
 * planning 10,000 rules asks for the same addresses many times.
 */
const canonicalMemo = new Map<string, string>();
export function canonicalText(text: string): string {
  let c = canonicalMemo.get(text);
  if (c !== undefined) return c;
  const a = parseIp(text);
  c = a === null ? text : formatIp(a);
  if (canonicalMemo.size >= 100_000) canonicalMemo.clear();
  canonicalMemo.set(text, c);
  return c;
}

/** 224.0.0.0/4 or ff00::/8. */
export function isMulticast(a: IpAddress): boolean {
  return a.family === 4 ? (a.bytes[0] & 0xf0) === 0xe0 : a.bytes[0] === 0xff;
}

/** The address as big-endian 32-bit words, each as int32 (IPv4: one word, IPv6: four). */
export function ipWords(a: IpAddress): number[] {
  const dv = new DataView(a.bytes.buffer, a.bytes.byteOffset, a.bytes.byteLength);
  const out: number[] = [];
  for (let i = 0; i < a.bytes.length; i += 4) out.push(dv.getInt32(i));
  return out;
}

/** The inverse of ipWords. */
export function fromWords(family: Family, words: readonly number[]): IpAddress {
  const bytes = new Uint8Array(family === 4 ? 4 : 16);
  const dv = new DataView(bytes.buffer);
  for (let i = 0; i < bytes.length / 4; i++) dv.setInt32(4 * i, words[i] | 0);
  return { family, bytes };
}

/** The 16-bit words of an address (for checksum arithmetic). */
export function ipHalfWords(a: IpAddress): number[] {
  const out: number[] = [];
  for (let i = 0; i < a.bytes.length; i += 2) out.push((a.bytes[i] << 8) | a.bytes[i + 1]);
  return out;
}

/** A source filter "addr" or "addr/len": address words and mask words (int32), already masked. */
export function prefixWords(
  text: string,
): { family: Family; addr: number[]; mask: number[]; length: number } {
  const [addrText, lenText] = text.split("/");
  const a = ip(addrText);
  const bits = a.family === 4 ? 32 : 128;
  const length = lenText === undefined ? bits : Number(lenText);
  const words = ipWords(a);
  const mask: number[] = [];
  for (let i = 0; i < words.length; i++) {
    const n = Math.max(0, Math.min(32, length - 32 * i));
    mask.push(n === 0 ? 0 : (0xffffffff << (32 - n)) | 0);
  }
  return { family: a.family, addr: words.map((w, i) => w & mask[i]), mask, length };
}

/** The Ethernet destination MAC of a multicast group: 01:00:5e + low 23 bits, or 33:33 + low 32 bits. */
export function multicastMac(a: IpAddress): Uint8Array {
  const b = a.bytes;
  if (a.family === 4) return new Uint8Array([0x01, 0x00, 0x5e, b[1] & 0x7f, b[2], b[3]]);
  return new Uint8Array([0x33, 0x33, b[12], b[13], b[14], b[15]]);
}
