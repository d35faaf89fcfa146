/**
 * A relay rule's schema (part of src/config/schema.ts): its input, its
 * outputs, the stream inspection of its input, the per-rule checks between
 * them, and the helpers that name an input's or output's destination.
 */
import { z } from "zod";
import { familyOf } from "../net/address.ts";
import { MAX_LEGS, MergeSettingsSchema } from "./merge_schema.ts";
import {
  InterfaceName,
  IpAddressText,
  MulticastGroup,
  Port,
  Protocol,
  protocolNumber,
  RuleName,
  SourceFilter,
  UnicastAddress,
  VlanId,
} from "./fields.ts";

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
   * l2 outputs: the UDP source port of relayed datagrams. Unset: the
   * sender's, except for a merge, whose legs may come from different
   * senders: its outputs send from their own destination port.
   */
  source_port: Port.optional(),
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
  if (routed && out.source_port !== undefined) {
    ctx.addIssue({
      code: "custom",
      message: "source_port is for l2 outputs (a routed output sends from its socket's port)",
      path: ["source_port"],
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

/**
 * A merge: the same stream on two or more legs (src/config/merge_schema.ts).
 * Each leg is an input; copies are recognised by their key.
 */
export const MergeSchema = MergeSettingsSchema.extend({
  /** Where the copies come in: two or more inputs (interface, group or address, port, source). */
  legs: z.array(InputSchema).min(2).max(MAX_LEGS),
});

/** The inputs of a rule: its one input, or a merge's legs (none while a rule being checked has neither). */
export function ruleInputs(rule: { input?: Input; merge?: { legs: Input[] } }): Input[] {
  return rule.merge?.legs ?? (rule.input !== undefined ? [rule.input] : []);
}

/** The input a rule is shown by: its input, or a merge's first leg. */
export function primaryInput(rule: { input?: Input; merge?: { legs: Input[] } }): Input {
  return rule.merge !== undefined ? rule.merge.legs[0] : rule.input!;
}

type Input = z.infer<typeof InputSchema>;
type Output = z.infer<typeof OutputSchema>;

/** A relay rule: one input (or a merge of legs), 1..N outputs. */
export const RuleSchema = z.strictObject({
  name: RuleName,
  /** Where the stream comes in (or `merge`: the same stream on several legs). */
  input: InputSchema.optional(),
  merge: MergeSchema.optional(),
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
  if ((rule.input === undefined) === (rule.merge === undefined)) {
    ctx.addIssue({
      code: "custom",
      message: "give exactly one of input (one stream) or merge (the same stream on several legs)",
      path: rule.input === undefined ? ["input"] : ["merge"],
    });
    return;
  }
  if (rule.merge !== undefined) checkMerge(rule, ctx);
  const input = primaryInput(rule);
  if (rule.inspect !== undefined && protocolNumber(input) !== 17) {
    ctx.addIssue({
      code: "custom",
      message: "inspect reads UDP payloads: the input's protocol must be udp",
      path: ["inspect"],
    });
  }
  checkOutputPorts(rule, protocolNumber(input) !== 17, ctx);
  const inputDst = input.group ?? input.address;
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

type Ctx = {
  addIssue: (issue: { code: "custom"; message: string; path: (string | number)[] }) => void;
};

/** Another protocol's payload is carried as it is: l2 outputs, no ports; UDP outputs need one. */
function checkOutputPorts(rule: { outputs: Output[] }, notUdp: boolean, ctx: Ctx): void {
  rule.outputs?.forEach((o, j) => {
    if (notUdp && o.egress === "routed") {
      ctx.addIssue({
        code: "custom",
        message: "a non-UDP stream goes to l2 outputs only (a routed output is a UDP socket)",
        path: ["outputs", j],
      });
    } else if (notUdp && o.port !== undefined) {
      ctx.addIssue({
        code: "custom",
        message: "only UDP has ports: leave port out for this protocol",
        path: ["outputs", j, "port"],
      });
    } else if (!notUdp && o.port === undefined) {
      ctx.addIssue({
        code: "custom",
        message: "a UDP output needs its port",
        path: ["outputs", j, "port"],
      });
    }
  });
}

/**
 * The most datagrams a window may hold with a 16-bit sequence number (RTP):
 * copies are told apart within half its range (32,768), less room for the
 * sequence to move on while the oldest are still waited for.
 */
export const SEQ16_WINDOW_LIMIT = 28_672;
/** A merge's rate when the rule declares none (sizes its window). */
export const DEFAULT_MERGE_RATE_PPS = 20_000;

/** A merge's legs, key and mode fit together, and its window can be told apart by its key. */
function checkMerge(
  rule: {
    merge?: z.infer<typeof MergeSchema>;
    rate_pps?: number;
    spread?: boolean;
    allow_fragments?: boolean;
  },
  ctx: Ctx,
): void {
  const m = rule.merge!;
  m.legs.forEach((leg, i) => {
    if (protocolNumber(leg) !== 17) {
      ctx.addIssue({
        code: "custom",
        message: "a merge reads UDP payloads: every leg's protocol must be udp",
        path: ["merge", "legs", i, "protocol"],
      });
    }
  });
  const keys = m.legs.map((l) =>
    `${l.interface}|${l.group ?? l.address}|${l.port}|${l.vlan ?? 0}|${l.outer_vlan ?? 0}`
  );
  keys.forEach((k, i) => {
    if (keys.indexOf(k) !== i) {
      ctx.addIssue({
        code: "custom",
        message: `legs[${keys.indexOf(k)}] already receives this interface, destination and port`,
        path: ["merge", "legs", i],
      });
    }
  });
  const say = (message: string, path: (string | number)[]) =>
    ctx.addIssue({ code: "custom", message, path: ["merge", ...path] });
  if (rule.spread) say("a merge cannot be spread (one worker merges a pair)", []);
  if (rule.allow_fragments) say("a merge needs whole datagrams: allow_fragments is refused", []);
  const mode = m.mode ?? "pass-through";
  if (mode === "failover" && m.key === "hash") {
    say('failover legs are not copies: key "hash" cannot follow them (use rtp or sequence)', [
      "key",
    ]);
  }
  if (m.failover !== undefined && mode !== "failover") {
    say('failover settings need mode: "failover"', ["failover"]);
  }
  if ((m.failover?.primary ?? 0) >= m.legs.length) {
    say(`primary must name one of the ${m.legs.length} legs (0..${m.legs.length - 1})`, [
      "failover",
      "primary",
    ]);
  }
  if (m.delay_ms !== undefined && mode !== "resequence") {
    say('delay_ms is for mode: "resequence"', ["delay_ms"]);
  }
  if (mode === "resequence" && m.key === "hash") {
    say("resequencing needs a sequence number: use key rtp or sequence", ["key"]);
  }
  const window = mergeWindowPackets(m.window_ms ?? 450, rule.rate_pps);
  const sixteen = (m.key ?? "rtp") === "rtp" ||
    (typeof m.key === "object" && m.key.sequence.width === 2);
  if (sixteen && window > SEQ16_WINDOW_LIMIT) {
    say(
      `a ${m.window_ms ?? 450} ms window at ${
        rule.rate_pps ?? DEFAULT_MERGE_RATE_PPS
      } pps holds ${window} datagrams: a 16-bit sequence number tells apart at most ` +
        `${SEQ16_WINDOW_LIMIT}; lower window_ms or rate_pps (or use a 4-byte sequence key)`,
      ["window_ms"],
    );
  }
}

/** Datagrams a merge's window holds at its rate (the rule's rate_pps, else DEFAULT_MERGE_RATE_PPS). */
export function mergeWindowPackets(windowMs: number, ratePps: number | undefined): number {
  return Math.ceil((windowMs * (ratePps ?? DEFAULT_MERGE_RATE_PPS)) / 1000);
}

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
