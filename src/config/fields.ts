/**
 * The primitive fields of the configuration schemas (src/config/schema.ts):
 * interface names, addresses and groups as text, ports, IP protocols, VLAN
 * ids, source filters, rule names, and the default TTL of relayed packets.
 */
import { z } from "zod";
import { isMulticast, parseIp } from "../net/address.ts";
import "./messages.ts"; // refusals in plain words, for every schema

/** Default TTL written into relayed packets when an output does not set one. */
export const DEFAULT_TTL = 64;

export const InterfaceName = z.string().min(1).max(15).regex(
  /^[A-Za-z0-9_.:@-]+$/,
  "interface names are 1-15 characters: letters, digits, _ . : @ -",
);
/** An IPv4 or IPv6 address. */
export const IpAddressText = z.string().refine((t) => parseIp(t) !== null, {
  error: "must be an IPv4 address (a.b.c.d) or an IPv6 address",
});
/** An IPv4 or IPv6 multicast group. */
export const MulticastGroup = z.string().refine((t) => {
  const a = parseIp(t);
  return a !== null && isMulticast(a);
}, { error: "must be an IPv4 multicast group (224.0.0.0/4) or an IPv6 one (ff00::/8)" });
/** An IPv4 or IPv6 unicast address. */
export const UnicastAddress = z.string().refine((t) => {
  const a = parseIp(t);
  return a !== null && !isMulticast(a) && !/^(0\.0\.0\.0|::)$/.test(t);
}, { error: "must be a unicast IPv4 or IPv6 address (not multicast, not unspecified)" });
export const Port = z.int().min(1).max(65535);
/** IP protocol of a rule's stream: udp (the default), esp, or a protocol number. */
export const Protocol = z.union([z.enum(["udp", "esp"]), z.int().min(0).max(255)], {
  error: "must be udp, esp or an IP protocol number 0-255",
});
/** The protocol number of an input (17 for UDP, the default). */
export function protocolNumber(input: { protocol?: "udp" | "esp" | number }): number {
  const p = input.protocol ?? "udp";
  return p === "udp" ? 17 : p === "esp" ? 50 : p;
}

/** An 802.1Q VLAN id. */
export const VlanId = z.int().min(1).max(4094);
/** A source filter: one address or a prefix (a.b.c.d/len, 2001:db8::/32). */
export const SourceFilter = z.string().refine((t) => {
  const [addr, len, extra] = t.split("/");
  const a = parseIp(addr);
  if (a === null || extra !== undefined) return false;
  if (len === undefined) return true;
  return /^\d{1,3}$/.test(len) && +len <= (a.family === 4 ? 32 : 128);
}, {
  error:
    "must be an IPv4 or IPv6 address or prefix (a.b.c.d, a.b.c.d/len, 2001:db8::1, 2001:db8::/32)",
});
export const RuleName = z.string().min(1).max(64).regex(
  /^[A-Za-z0-9_.-]+$/,
  "rule names are 1-64 characters: letters, digits, _ . -",
).refine((n) => n !== "." && n !== "..", {
  error: 'a rule cannot be named "." or ".." (a URL path cannot name it)',
});
