/**
 * The one source of truth for mcr's configuration: the YAML file, the HTTP
 * API bodies and the CLI all validate against these zod schemas, and the
 * TypeScript types below are inferred from them.
 *
 * Addresses are written as text in YAML/JSON (dotted-quad IPv4 or IPv6);
 * the data plane converts them to numbers at plan time
 * (src/supervisor/plan.ts). Inputs and outputs choose their family
 * independently: an IPv4 stream may be relayed to IPv6 receivers and back.
 */
import { z } from "zod";
import { MAX_OUTPUTS, MAX_RULES } from "./limits.ts";
import { canonicalText, familyOf, isMulticast, parseIp } from "../net/address.ts";

/** Default TTL written into relayed packets when an output does not set one. */
export const DEFAULT_TTL = 64;
/** Default API listen address: loopback only. */
export const DEFAULT_LISTEN = "127.0.0.1:8787";

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
export const Protocol = z.union([z.enum(["udp", "esp"]), z.int().min(0).max(255)]);
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
);

/**
 * Where a rule listens: an interface, a multicast group (joined) or a unicast
 * address of this host (`address`: unicast in, e.g. to multicast out), a UDP
 * port, optionally one sender or a prefix of senders.
 */
export const InputSchema = z.strictObject({
  interface: InterfaceName,
  group: MulticastGroup.optional(),
  address: UnicastAddress.optional(),
  /** UDP destination port (UDP only: other protocols have none). */
  port: Port.optional(),
  source: SourceFilter.optional(),
  /**
   * The stream's IP protocol: udp (default), esp (IPsec ESP, 50) or any
   * protocol number. The IP payload of a non-UDP packet is relayed
   * unchanged; its destination, source and TTL are rewritten.
   */
  protocol: Protocol.optional(),
  /**
   * On a trunk: the VLAN the stream comes in on (the inner tag under
   * `outer_vlan` for QinQ). Unset: only untagged frames match.
   */
  vlan: VlanId.optional(),
  /** QinQ: the outer (service) tag; needs `vlan`. */
  outer_vlan: VlanId.optional(),
  /**
   * Senders on this link use UDP GSO (one frame carrying several datagrams,
   * common from containers on a bridge or veth): each such frame is relayed
   * as the datagrams it stands for. The interface's RX ring then reads a
   * segmentation header with every packet and holds frames of up to 64 KiB.
   */
  gso: z.boolean().optional(),
}).superRefine((input, ctx) => {
  if (input.outer_vlan !== undefined && input.vlan === undefined) {
    ctx.addIssue({
      code: "custom",
      message: "outer_vlan needs vlan (the inner tag)",
      path: ["vlan"],
    });
  }
  const udp = protocolNumber(input) === 17;
  if (udp && input.port === undefined) {
    ctx.addIssue({ code: "custom", message: "a UDP input needs its port", path: ["port"] });
  }
  if (!udp && input.port !== undefined) {
    ctx.addIssue({
      code: "custom",
      message: "only UDP has ports: leave port out for this protocol",
      path: ["port"],
    });
  }
  if ((input.group === undefined) === (input.address === undefined)) {
    ctx.addIssue({
      code: "custom",
      message: "give exactly one of group (multicast input) or address (unicast input)",
      path: input.group === undefined ? ["group"] : ["address"],
    });
    return;
  }
  const dst = (input.group ?? input.address)!;
  if (input.source !== undefined && familyOf(input.source) !== familyOf(dst)) {
    ctx.addIssue({
      code: "custom",
      message: `source must be an IPv${
        familyOf(dst)
      } address or prefix like the input's destination`,
      path: ["source"],
    });
  }
});

/**
 * One copy of the stream: where it goes and how its headers are rewritten.
 * egress "l2" (default) writes whole frames into the interface's TX ring
 * (multicast group only); egress "routed" hands the datagram to a kernel UDP
 * socket, which routes it to a group or a unicast address.
 */
export const OutputSchema = z.strictObject({
  egress: z.enum(["l2", "routed"]).optional(),
  /** Egress interface: required for l2 and for routed multicast; optional for routed unicast. */
  interface: InterfaceName.optional(),
  group: MulticastGroup.optional(),
  /** Unicast destination (routed egress only). */
  address: UnicastAddress.optional(),
  /** UDP destination port (UDP streams; other protocols have none). */
  port: Port.optional(),
  /**
   * IPv4 TTL or IPv6 hop limit of relayed packets. Unset: like a router, the
   * input's minus one, and a packet that arrives with 1 is not relayed
   * (routed outputs: DEFAULT_TTL, fixed). Set: this value (for senders that
   * use TTL 1), and the rule's loop guard stops a packet that comes back.
   */
  ttl: z.int().min(1).max(255).optional(),
  /** DSCP code point written into the TOS / traffic class byte (ECN bits are kept). */
  dscp: z.int().min(0).max(63).optional(),
  /** Source address of relayed packets (default: the output interface's address of the output's family). */
  source_ip: IpAddressText.optional(),
  /** l2 outputs: send the frames tagged with this 802.1Q VLAN id (the interface is a trunk). */
  vlan: VlanId.optional(),
  /**
   * Forward only while someone on the link asks for the group: an IPv4
   * group by an IGMP report (the interface is in `igmp.interfaces`) or a
   * PIM join (in `pim.interfaces`), an IPv6 group by an MLD report (in
   * `mld.interfaces`). l2 outputs to a group.
   */
  on_demand: z.boolean().optional(),
}).superRefine((out, ctx) => {
  const routed = out.egress === "routed";
  if (out.on_demand && (routed || out.group === undefined)) {
    ctx.addIssue({
      code: "custom",
      message: "on_demand is for l2 outputs to a group",
      path: ["on_demand"],
    });
  }
  if (routed && out.vlan !== undefined) {
    ctx.addIssue({
      code: "custom",
      message: "vlan is for l2 outputs (a routed output's kernel socket tags nothing)",
      path: ["vlan"],
    });
  }
  if ((out.group === undefined) === (out.address === undefined)) {
    ctx.addIssue({
      code: "custom",
      message: "give exactly one of group (multicast) or address (unicast, routed egress only)",
      path: out.group === undefined ? ["group"] : ["address"],
    });
    return;
  }
  if (!routed && out.address !== undefined) {
    ctx.addIssue({
      code: "custom",
      message: 'a unicast address needs egress: "routed"',
      path: ["address"],
    });
  }
  if (out.interface === undefined && (!routed || out.group !== undefined)) {
    ctx.addIssue({
      code: "custom",
      message: routed
        ? "a routed multicast output needs its egress interface"
        : "an l2 output needs its interface",
      path: ["interface"],
    });
  }
  const dst = (out.group ?? out.address)!;
  if (out.source_ip !== undefined && familyOf(out.source_ip) !== familyOf(dst)) {
    ctx.addIssue({
      code: "custom",
      message: `source_ip must be an IPv${familyOf(dst)} address like the output's destination`,
      path: ["source_ip"],
    });
  }
});

/**
 * Stream inspection of a rule's input (src/streams/): timing for every mode,
 * RTP (RFC 3550) for "rtp" and "rtp+ts", MPEG-TS (ETSI TR 101 290 priority 1
 * and a priority 2 subset) for "rtp+ts" and "ts". Off unless set.
 */
export const InspectSchema = z.strictObject({
  mode: z.enum(["udp", "rtp", "rtp+ts", "ts"]),
  /** RTP clock rate (Hz) for the jitter; default: the payload type's, else 90000. */
  clock_rate: z.int().min(1000).max(10_000_000).optional(),
  /** TR 101 290 2.3a: 100 ms (default) or the stricter 40 ms. */
  pcr_repetition_ms: z.union([z.literal(40), z.literal(100)]).optional(),
  /** TR 101 290 1.6: a PID the PMT refers to, absent this long, is an error (default 5000). */
  pid_period_ms: z.int().min(100).max(600_000).optional(),
  /** Health: a priority 1 error this recent makes the stream CRITICAL (default 10 s). */
  critical_window_s: z.int().min(1).max(86_400).optional(),
  /** Health: RTP loss or a priority 2 error this recent makes it WARNING (default 10 s; 0: never). */
  warning_window_s: z.int().min(0).max(86_400).optional(),
});
export type Inspect = z.infer<typeof InspectSchema>;

/** A relay rule: one input, 1..N outputs. */
export const RuleSchema = z.strictObject({
  name: RuleName,
  input: InputSchema,
  outputs: z.array(OutputSchema).min(1).max(1024),
  /** Expected input rate; sizes the RX ring to hold 200 ms of it. */
  rate_pps: z.int().min(1).max(10_000_000).optional(),
  /** Stream presence: the input counts as stale after this long without packets. */
  stale_after_ms: z.int().min(100).max(86_400_000).optional(),
  /** Forward fragments of this stream instead of dropping them (l2 outputs of the input's family only). */
  allow_fragments: z.boolean().optional(),
  /** A disabled rule stays in the config but forwards nothing. */
  enabled: z.boolean().optional(),
  /**
   * With more than one worker: every worker reads this rule's packets (from
   * an RX ring of their own) and writes a share of its outputs, so a large
   * fan-out is written by several cores; copies to one output stay in
   * order (one worker writes them). The packets are received once per worker.
   */
  spread: z.boolean().optional(),
  /** Stream health of the input: RTP, MPEG-TS and timing checks on the data path (src/streams/). */
  inspect: InspectSchema.optional(),
}).superRefine((rule, ctx) => {
  // (Runs even when a field failed its own check: skip what is missing.)
  if (rule.inspect !== undefined && rule.input !== undefined && protocolNumber(rule.input) !== 17) {
    ctx.addIssue({
      code: "custom",
      message: "inspect reads UDP payloads: the input's protocol must be udp",
      path: ["inspect"],
    });
  }
  if (rule.input !== undefined && protocolNumber(rule.input) !== 17) {
    // Another protocol's payload is carried as it is: l2 outputs, no ports.
    rule.outputs?.forEach((o, j) => {
      if (o.egress === "routed") {
        ctx.addIssue({
          code: "custom",
          message: "a non-UDP stream goes to l2 outputs only (a routed output is a UDP socket)",
          path: ["outputs", j],
        });
      } else if (o.port !== undefined) {
        ctx.addIssue({
          code: "custom",
          message: "only UDP has ports: leave port out for this protocol",
          path: ["outputs", j, "port"],
        });
      }
    });
  } else {
    rule.outputs?.forEach((o, j) => {
      if (o.port === undefined) {
        ctx.addIssue({
          code: "custom",
          message: "a UDP output needs its port",
          path: ["outputs", j, "port"],
        });
      }
    });
  }
  const inputDst = rule.input.group ?? rule.input.address;
  if (!rule.allow_fragments || inputDst === undefined) return;
  const inFamily = familyOf(inputDst);
  rule.outputs.forEach((o, j) => {
    const outDst = o.group ?? o.address;
    if (o.egress === "routed" || (outDst !== undefined && familyOf(outDst) !== inFamily)) {
      ctx.addIssue({
        code: "custom",
        message:
          "allow_fragments: fragments can only be relayed to l2 outputs of the input's address family",
        path: ["outputs", j],
      });
    }
  });
});

/** Ring geometry overrides (normally derived from rate_pps, see ring_geometry.ts). */
export const RingSchema = z.strictObject({
  /**
   * How RX rings hand packets over: "frames" (TPACKET_V2, the default): the
   * forwarding loop is woken per packet and takes every ready frame in one
   * batch, so a packet never waits for a timer; "blocks" (TPACKET_V3): packets
   * packed into blocks handed over when full or after retire_ms, fewer
   * wake-ups at high rates but up to retire_ms of added latency.
   */
  rx_mode: z.enum(["frames", "blocks"]).optional(),
  /**
   * Busy polling, opt-in, for a core dedicated to the relay: after a batch the
   * loop keeps looking at its rings for this many microseconds before it
   * sleeps (a packet in that time is taken without a wake-up; the core is
   * busy meanwhile). 0 (default): sleep at once.
   */
  busy_poll_us: z.int().min(0).max(100_000).optional(),
  /**
   * Adaptive wake-ups in frames mode: while packets come faster than one per
   * 2 x nap_us, the loop naps up to nap_us between batches instead of being
   * woken per packet (one wake-up and one TX kick per batch), and goes back
   * to a wake-up per packet as soon as a nap brings nothing. The most it adds
   * to any packet. Default 50; 0: a wake-up per packet always.
   */
  nap_us: z.int().min(0).max(10_000).optional(),
  block_size_kib: z.int().min(4).max(65536).refine((v) => (v & (v - 1)) === 0, {
    error: "must be a power of two",
  }).optional(),
  block_count: z.int().min(2).max(65536).optional(),
  retire_ms: z.int().min(1).max(1000).optional(),
  /** A multiple of 32: TX frames fill whole 64 KiB blocks at every frame size (2 KiB frames: 32 a block). */
  tx_frames: z.int().min(64).max(1 << 20).multipleOf(32).optional(),
  qdisc_bypass: z.boolean().optional(),
});

/** host:port of the API (IPv4, [IPv6] or localhost): config `api.listen` and `mcr run --listen`. */
export const LISTEN_PATTERN = /^(\[[0-9a-fA-F:.]+\]|[0-9.]+|localhost):\d{1,5}$/;

export const ApiSchema = z.strictObject({
  /** host:port; loopback by default. A non-loopback address requires a token. */
  listen: z.string().regex(LISTEN_PATTERN, {
    error: "must be host:port, e.g. 127.0.0.1:8787",
  }).optional(),
  /** Optional unix socket path served in addition to listen. */
  unix_socket: z.string().min(1).optional(),
  /** File holding the bearer token (never put the token itself in the config). */
  token_file: z.string().min(1).optional(),
  /** Name of an environment variable holding the bearer token. */
  token_env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/).optional(),
  /** Largest accepted request body in bytes. */
  body_limit: z.int().min(1024).max(64 * 1024 * 1024).optional(),
  /**
   * Host names the API answers to besides loopback names (a loopback
   * listener refuses any other Host: DNS rebinding). For a non-loopback
   * listener, setting it makes the API refuse every other Host.
   */
  allowed_hosts: z.array(z.string().regex(/^[a-z0-9.:-]+$/i)).max(64).optional(),
  /** Concurrent API connections; at the limit, the one idle longest is closed. */
  max_connections: z.int().min(4).max(10_000).optional(),
});

export const LogSchema = z.strictObject({
  level: z.enum(["debug", "info", "warn", "error"]).optional(),
  /** Only JSON lines are implemented; any other value is refused. */
  format: z.enum(["json"]).optional(),
});

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

const ConfigObject = z.strictObject({
  version: z.literal(1).optional(),
  /** Number of forwarding workers (PACKET_FANOUT spreads flows across them). */
  workers: z.int().min(1).max(64).optional(),
  /**
   * CPUs the workers run on: worker i on worker_cpus[i mod length], alone
   * (its thread is pinned; the supervisor and the runtime's helper threads
   * keep the process's CPUs). For a core dedicated to forwarding. Unset: the
   * scheduler's choice. A CPU that does not exist is refused when applied.
   */
  worker_cpus: z.array(z.int().min(0).max(4095)).min(1).max(1024).optional(),
  ring: RingSchema.optional(),
  api: ApiSchema.optional(),
  log: LogSchema.optional(),
  igmp: IgmpSchema.optional(),
  mld: MldSchema.optional(),
  pim: PimSchema.optional(),
  msdp: MsdpSchema.optional(),
  rules: z.array(RuleSchema).max(MAX_RULES),
});

/** The destination address text of an input (its group, or its unicast address). */
export function inputDestination(i: { group?: string; address?: string }): string {
  return (i.group ?? i.address)!;
}

/** The destination address text of an output (its group, or its unicast address). */
export function outputDestination(o: { group?: string; address?: string }): string {
  return (o.group ?? o.address)!;
}

/**
 * One-line text of an input or output for humans: "eth1 239.1.1.1:5001",
 * "eth1 [ff3e::1]:5001", "routed eth2 10.9.0.2:5000", "routed * 10.9.0.2:5000".
 */
export function endpointText(
  e: {
    egress?: string;
    interface?: string;
    group?: string;
    address?: string;
    port?: number;
    protocol?: string | number;
  },
): string {
  const dst = (e.group ?? e.address)!;
  const addr = dst.includes(":") ? `[${dst}]` : dst;
  const where = e.port !== undefined ? `${addr}:${e.port}` : `${addr} ${e.protocol ?? "ip"}`;
  return `${e.egress === "routed" ? "routed " : ""}${e.interface ?? "*"} ${where}`;
}

/**
 * Canonical text of an address, so "ff3e::1" and "ff3e:0::1" compare equal.
 * Cross-field checks also run over fields that failed their own check: those
 * are left as they are (their own error names them).
 */
function canonical(text: string | undefined): string {
  return text === undefined ? "undefined" : canonicalText(text);
}

function ruleKey(i: Input): string {
  const src = i.source === undefined
    ? "*"
    : i.source.split("/").map((p, k) => k === 0 ? canonical(p) : p).join("/");
  return `${i.interface}|${i.outer_vlan ?? 0}.${i.vlan ?? 0}|${canonical(inputDestination(i))}|${
    protocolNumber(i)
  }:${i.port ?? 0}|${src}`;
}

/**
 * Cross-field checks: unique rule names, no two rules with the same input
 * (interface, group, port, source), and no output that would feed a rule's
 * own input back (same interface, group and port as any rule's input).
 */
export function checkRules(
  rules: readonly Rule[],
  ctx: {
    addIssue: (issue: { code: "custom"; message: string; path: (string | number)[] }) => void;
  },
  pathPrefix: (string | number)[] = ["rules"],
): void {
  const names = new Map<string, number>();
  const inputs = new Map<string, number>();
  const outputs = rules.reduce((n, r) => n + r.outputs.length, 0);
  if (outputs > MAX_OUTPUTS) {
    ctx.addIssue({
      code: "custom",
      message: `${outputs} outputs in all: at most ${MAX_OUTPUTS} (one counter slot each)`,
      path: [...pathPrefix],
    });
  }
  const inputPorts = new Set<string>();
  rules.forEach((rule, i) => {
    const seen = names.get(rule.name);
    if (seen !== undefined) {
      ctx.addIssue({
        code: "custom",
        message: `duplicate rule name "${rule.name}" (also rules[${seen}])`,
        path: [...pathPrefix, i, "name"],
      });
    } else names.set(rule.name, i);
    const key = ruleKey(rule.input);
    const other = inputs.get(key);
    if (other !== undefined) {
      ctx.addIssue({
        code: "custom",
        message:
          `duplicate input: rules[${other}] already relays this interface, group, port and source`,
        path: [...pathPrefix, i, "input"],
      });
    } else inputs.set(key, i);
    if (rule.input.port !== undefined) {
      inputPorts.add(
        `${rule.input.interface}|${canonical(inputDestination(rule.input))}|${rule.input.port}`,
      );
    }
  });
  rules.forEach((rule, i) => {
    rule.outputs.forEach((out, j) => {
      if (out.interface === undefined) return;
      const dst = outputDestination(out);
      if (inputPorts.has(`${out.interface}|${canonical(dst)}|${out.port}`)) {
        ctx.addIssue({
          code: "custom",
          message:
            `output would feed a relay input back (loop): ${out.interface} ${dst} port ${out.port} is an input`,
          path: [...pathPrefix, i, "outputs", j],
        });
      }
    });
  });
}

/** The whole configuration file. */
export const ConfigSchema = ConfigObject.superRefine((cfg, ctx) => {
  checkRules(cfg.rules, ctx);
  checkOnDemand(cfg, ctx);
});

/** An on_demand output must be on a link where IGMP or PIM (IPv4 group), or MLD (IPv6 group), can ask for it. */
export function checkOnDemand(
  cfg: {
    rules: readonly Rule[];
    igmp?: { interfaces: string[] };
    mld?: { interfaces: string[] };
    pim?: { interfaces: string[] };
  },
  ctx: {
    addIssue: (issue: { code: "custom"; message: string; path: (string | number)[] }) => void;
  },
): void {
  const asking4 = new Set([...(cfg.igmp?.interfaces ?? []), ...(cfg.pim?.interfaces ?? [])]);
  const asking6 = new Set(cfg.mld?.interfaces ?? []);
  cfg.rules.forEach((rule, i) => {
    rule.outputs.forEach((o, j) => {
      if (!o.on_demand || o.interface === undefined || o.group === undefined) return;
      const v6 = o.group.includes(":");
      if ((v6 ? asking6 : asking4).has(o.interface)) return;
      ctx.addIssue({
        code: "custom",
        message:
          `on_demand output on ${o.interface}: nothing could ask for it there (add the interface to ` +
          `${v6 ? "mld.interfaces" : "igmp.interfaces or pim.interfaces"})`,
        path: ["rules", i, "outputs", j, "on_demand"],
      });
    });
  });
}

export type Input = z.infer<typeof InputSchema>;
export type Output = z.infer<typeof OutputSchema>;
export type Rule = z.infer<typeof RuleSchema>;
export type RingOptions = z.infer<typeof RingSchema>;
export type ApiOptions = z.infer<typeof ApiSchema>;
export type Config = z.infer<typeof ConfigSchema>;
export type IgmpConfig = z.infer<typeof IgmpSchema>;
export type MldConfig = z.infer<typeof MldSchema>;
export type PimConfig = z.infer<typeof PimSchema>;
export type MsdpConfig = z.infer<typeof MsdpSchema>;
