/**
 * The routing-protocol sections of the configuration (part of
 * src/config/schema.ts): IGMP and MLD on output links, PIM-SM, MSDP, and the
 * IPv4 address and group-prefix fields they use.
 */
import { z } from "zod";
import { MAX_OUTPUTS } from "./limits.ts";
import { familyOf, isMulticast, parseIp } from "../net/address.ts";
import { InterfaceName, UnicastAddress } from "./fields.ts";

/** An IPv4 unicast address (routing protocols here speak IPv4). */
export const Ipv4Unicast = UnicastAddress.refine((t) => familyOf(t) === 4, {
  error: "must be an IPv4 address",
});
/** An IPv4 multicast prefix: a.b.c.d/len inside 224.0.0.0/4. */
export const Ipv4GroupPrefix = z.string().refine((t) => {
  const [addr, len, extra] = t.split("/");
  const a = parseIp(addr);
  return a !== null && a.family === 4 && isMulticast(a) && extra === undefined &&
    len !== undefined &&
    /^\d{1,2}$/.test(len) && +len >= 4 && +len <= 32;
}, { error: "must be an IPv4 multicast prefix, e.g. 239.0.0.0/8" });

/**
 * IGMP on output links (RFC 2236 / 3376 router side): a querier (the lowest
 * address on the link wins the election, so a real router there queries
 * instead) and the groups receivers report, which start `on_demand` outputs.
 */
function listenerSchema<V extends z.ZodType>(version: V) {
  return z.strictObject({
    interfaces: z.array(InterfaceName).min(1).max(1024),
    /** Version of the queries sent (older hosts answer newer queries too). */
    version: version.optional(),
    /** General query interval. Default 125 s. */
    query_interval_ms: z.int().min(1000).max(3_600_000).optional(),
    /** Max response time in general queries. Default 10 s; less than the query interval. */
    query_response_ms: z.int().min(100).max(25_500).optional(),
    /** Last member query interval (after a leave). Default 1 s. */
    last_member_interval_ms: z.int().min(100).max(25_500).optional(),
    /** Group-specific queries sent after a leave. Default 2. */
    last_member_count: z.int().min(1).max(7).optional(),
    /** Robustness variable. Default 2. */
    robustness: z.int().min(1).max(7).optional(),
    /** Groups tracked per interface at most; reports for more are refused and counted. Default 1024. */
    max_groups: z.int().min(1).max(65536).optional(),
  }).superRefine((c, ctx) => {
    if ((c.query_response_ms ?? 10_000) >= (c.query_interval_ms ?? 125_000)) {
      ctx.addIssue({
        code: "custom",
        message: "query_response_ms must be less than query_interval_ms",
        path: ["query_response_ms"],
      });
    }
  });
}

/** IGMP: queries v2 or v3 (default 3). */
export const IgmpSchema = listenerSchema(z.union([z.literal(2), z.literal(3)]));

/**
 * MLD on output links (RFC 2710 / 3810 router side), for IPv6 groups: the
 * same querier and membership as IGMP; queries v1 or v2 (default 2), sent
 * from the link's link-local address.
 */
export const MldSchema = listenerSchema(z.union([z.literal(1), z.literal(2)]));

/**
 * PIM-SM (RFC 7761) as an upstream router: Hellos and DR election on these
 * links, and Joins from downstream routers for groups mcr relays, which add
 * outputs (learned routes) while they last. See src/protocols/pim_state.ts
 * for what is and is not implemented.
 */
export const PimSchema = z.strictObject({
  interfaces: z.array(InterfaceName).min(1).max(1024),
  /** Hello period. Default 30 s. */
  hello_interval_ms: z.int().min(1000).max(18_000_000).optional(),
  /** Holdtime in Hellos. Default 3.5 x the hello period. */
  hold_time_s: z.int().min(1).max(65534).optional(),
  /** DR priority. Default 1. */
  dr_priority: z.int().min(0).max(0xffffffff).optional(),
  /** Static RPs: (*,G) joins naming the RP of G (or this router) are accepted. */
  rp: z.array(z.strictObject({ address: Ipv4Unicast, groups: Ipv4GroupPrefix })).max(256)
    .optional(),
  /** Learned routes at most (joins beyond are refused and counted). Default 256. */
  max_learned_routes: z.int().min(1).max(MAX_OUTPUTS).optional(),
  /** How long a Prune waits for an overriding Join on a link with other routers. Default 3 s. */
  prune_override_ms: z.int().min(0).max(60_000).optional(),
}).superRefine((c, ctx) => {
  const hello = c.hello_interval_ms ?? 30_000;
  if (c.hold_time_s !== undefined && c.hold_time_s * 1000 <= hello) {
    ctx.addIssue({
      code: "custom",
      message: "hold_time_s must be longer than hello_interval_ms",
      path: ["hold_time_s"],
    });
  }
});

/**
 * MSDP (RFC 3618) peers over TCP 639: Source-Active messages for the
 * sources mcr relays, and the SA cache of what peers advertise.
 */
export const MsdpSchema = z.strictObject({
  peers: z.array(z.strictObject({
    address: Ipv4Unicast,
    /** This side's address of the session (the peer checks it; the lower address connects). */
    local: Ipv4Unicast,
  })).min(1).max(64),
  /** RP address written into SAs. Default: each session's local address. */
  originator: Ipv4Unicast.optional(),
  /** Default 60 s. */
  keepalive_ms: z.int().min(1000).max(3_600_000).optional(),
  /** Default 75 s; longer than keepalive_ms. */
  hold_time_ms: z.int().min(3000).max(3_600_000).optional(),
  /** Default 30 s. */
  connect_retry_ms: z.int().min(1000).max(3_600_000).optional(),
  /** SA advertisement period. Default 60 s. */
  sa_interval_ms: z.int().min(1000).max(3_600_000).optional(),
  /** How long a learned SA is kept unless refreshed. Default 150 s. */
  sa_hold_ms: z.int().min(1000).max(3_600_000).optional(),
  /** SA cache entries at most per peer. Default 10,000. */
  max_sa: z.int().min(1).max(1_000_000).optional(),
}).superRefine((c, ctx) => {
  if ((c.hold_time_ms ?? 75_000) <= (c.keepalive_ms ?? 60_000)) {
    ctx.addIssue({
      code: "custom",
      message: "hold_time_ms must be longer than keepalive_ms",
      path: ["hold_time_ms"],
    });
  }
  const seen = new Set<string>();
  c.peers.forEach((p, i) => {
    if (seen.has(p.address)) {
      ctx.addIssue({ code: "custom", message: `duplicate peer ${p.address}`, path: ["peers", i] });
    }
    seen.add(p.address);
  });
});
