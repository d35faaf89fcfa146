/**
 * "The stream does not arrive: where does it stop?" One report per rule that
 * walks the path in the order a packet takes it: the rule in force, the
 * input link, the group joined, a querier on that link, packets arriving
 * and matching (and what the relay dropped instead), each output, and the
 * time packets spend in the relay. Each step is ok, warn, fail or skip with
 * one line saying what was found and, when it is not ok, one line saying
 * what to do. Built only from facts the relay already keeps (ExplainFacts,
 * gathered by src/api/routes/explain.ts); nothing here reads the system.
 */
import { endpointText, type Input, type Rule, ruleInputs } from "../config/schema.ts";
import { canonicalText } from "../net/address.ts";
import { residenceQuantileUs } from "./aggregate.ts";
import type { Rates } from "./rates.ts";
import { DROP_REASONS, type DropReasonName } from "./registry.ts";
import type { CounterValues, InterfaceState, QuerierSeen, RuleStats } from "./snapshot.ts";

export type StepStatus = "ok" | "warn" | "fail" | "skip";

/** The steps a report can have, in path order (the API's schema is derived from this). */
export const EXPLAIN_STEPS = [
  "rule",
  "input_interface",
  "membership",
  "querier",
  "arrival",
  "drops",
  "output",
  "residence",
] as const;
export type ExplainStepName = typeof EXPLAIN_STEPS[number];

export interface ExplainStep {
  step: ExplainStepName;
  status: StepStatus;
  /** What was found, one line. */
  detail: string;
  /** What to do about it, one line; null when there is nothing to do. */
  hint: string | null;
  /** The input (a merge's leg) or output the step is about, as text. */
  subject?: string;
  /** The figures the step judged. */
  facts?: Record<string, unknown>;
}

export interface ExplainReport {
  rule: string;
  /** The worst step. */
  verdict: "ok" | "warn" | "fail";
  at_ms: number;
  steps: ExplainStep[];
}

/** Everything a report is made from. */
export interface ExplainFacts {
  now: number;
  uptime_s: number;
  rule: Rule;
  /** The rule's counters and state; undefined when it is not in force. */
  stats: RuleStats | undefined;
  interfaces: readonly InterfaceState[];
  memberships: readonly { interface: string; family: 4 | 6; memberships: string[] }[];
  /** Unicast input ports held: `interface|address|port`. */
  unicast_ports: readonly string[];
  queriers: readonly QuerierSeen[];
  /** Worker counters summed over the relay (drop_<reason>, kernel_drops, residence). */
  totals: CounterValues;
  /** The rule's rates over the last seconds. */
  rate: Rates["rules"][string] | undefined;
  /** When each drop reason last rose (DROP_REASONS order; 0: never), and kernel drops. */
  drops_at: ArrayLike<number>;
  kernel_drops_at: number;
  /** When a frame of this rule's stream was last dropped (TTL, fragment, loop); null never. */
  rule_dropped_at: number | null;
  /** Frames per second the kernel counted on each input interface just now (all frames, any group). */
  input_rx_pps: Record<string, number>;
  /** Per output, in order: when it last sent and last lost a copy. */
  outputs_at: readonly { sent_at_ms: number | null; lost_at_ms: number | null }[];
  /** The last errno the kernel gave a routed send and a TX kick, by name (null: none). */
  errno: { routed: string | null; kick: string | null };
}

/** Events this recent are "now": they explain what is happening. */
export const RECENT_MS = 10_000;
/** A stream silent this long has stopped arriving. */
const SILENT_MS = 2_000;
/** Queriers query every 125 s by default; three intervals without one means it is gone. */
const QUERIER_GONE_MS = 3 * 125_000;

/** What to do about each drop reason, when it explains a stream that does not arrive. */
const DROP_HINTS: Record<DropReasonName, (i: Input) => string> = {
  truncated: (i) =>
    i.gso
      ? "frames are shorter than their headers say: a capture on the input link shows them"
      : "frames arrive cut short: if the sender uses UDP GSO (containers, veth), set `gso: true` on this input",
  not_ip: () => "frames that are not IPv4 or IPv6 arrive (another protocol on the link)",
  bad_header: () => "frames with broken IP or UDP headers arrive: check the sender",
  not_udp: () =>
    "IP packets of another protocol arrive: set `protocol` on the input if that is the stream",
  fragment: () =>
    "the sender's datagrams arrive fragmented: lower the datagram size below the path MTU",
  no_match: (i) =>
    `frames arrive that match no rule: check the sender sends to ${
      endpointText({ group: i.group, address: i.address, port: i.port, protocol: i.protocol })
    }${i.source ? ` from ${i.source}` : ""}${i.vlan ? ` on VLAN ${i.vlan}` : ""}`,
  ring_corrupt: () => "the kernel's ring held impossible entries: report this with the log",
  ttl_expired: () =>
    "packets arrive with TTL 1 and the outputs decrement it: raise the sender's TTL, or set `ttl` on the outputs",
  loop: () => "the relay's own output comes back to its input: a forwarding loop on the network",
};

/** What to do about a routed send the kernel refused, by errno name. */
const ERRNO_HINTS: Record<string, string> = {
  ENETUNREACH: "no route to this destination from the relay's host: add one (ip route)",
  EHOSTUNREACH: "the destination host cannot be reached (no neighbour answers ARP/ND)",
  ECONNREFUSED: "the receiver answered port unreachable: nothing listens on that port",
  EMSGSIZE: "the datagram is larger than the route's MTU",
  EPERM: "a firewall rule refused the send",
  EACCES: "a firewall rule or broadcast restriction refused the send",
  ENOBUFS: "the kernel ran out of buffers: the output is overloaded",
  ENETDOWN: "the output's link is down",
};

const RANK: Record<StepStatus, number> = { skip: 0, ok: 0, warn: 1, fail: 2 };

const ago = (now: number, at: number | null) =>
  at === null || at <= 0 ? "never" : `${Math.max(0, Math.round((now - at) / 1000))} s ago`;

export function explain(f: ExplainFacts): ExplainReport {
  const steps: ExplainStep[] = [ruleStep(f)];
  const inputs = ruleInputs(f.rule);
  for (const input of inputs) {
    const subject = inputs.length > 1 ? endpointText(input) : undefined;
    const leg = [inputStep(f, input), membershipStep(f, input), querierStep(f, input)];
    steps.push(...leg.map((s) => subject ? { ...s, subject } : s));
  }
  steps.push(arrivalStep(f, inputs[0]), dropsStep(f));
  f.rule.outputs.forEach((_, i) => steps.push(outputStep(f, i)));
  steps.push(residenceStep(f));
  const worst = Math.max(...steps.map((s) => RANK[s.status]));
  return {
    rule: f.rule.name,
    verdict: worst === 2 ? "fail" : worst === 1 ? "warn" : "ok",
    at_ms: f.now,
    steps,
  };
}

function ruleStep(f: ExplainFacts): ExplainStep {
  if (f.stats === undefined) {
    return {
      step: "rule",
      status: "fail",
      detail: "the rule is configured but not in force",
      hint: "see the relay's log for the change that failed",
    };
  }
  if (!f.stats.active) {
    return {
      step: "rule",
      status: "fail",
      detail: "the rule waits: its input interface, or every output's interface, is absent",
      hint: "the steps below name the interface",
    };
  }
  return { step: "rule", status: "ok", detail: "in force", hint: null };
}

function inputStep(f: ExplainFacts, input: Input): ExplainStep {
  const i = f.interfaces.find((x) => x.name === input.interface);
  const facts = i ? { ifindex: i.ifindex, up: i.up, mtu: i.mtu, ipv4: i.ipv4, ipv6: i.ipv6 } : {};
  if (!i || !i.present) {
    return {
      step: "input_interface",
      status: "fail",
      detail: `${input.interface} does not exist`,
      hint: `create ${input.interface}, or correct the rule's input interface`,
      facts,
    };
  }
  if (!i.up) {
    return {
      step: "input_interface",
      status: "fail",
      detail: `${input.interface} is down`,
      hint: `bring it up (ip link set ${input.interface} up) and check its cable or peer`,
      facts,
    };
  }
  return {
    step: "input_interface",
    status: "ok",
    detail: `${input.interface} is up, MTU ${i.mtu}`,
    hint: null,
    facts,
  };
}

function membershipStep(f: ExplainFacts, input: Input): ExplainStep {
  if (input.group === undefined) {
    const key = `${input.interface}|${canonicalText(input.address!)}|${input.port}`;
    const held = input.port === undefined || f.unicast_ports.includes(key);
    return {
      step: "membership",
      status: held ? "ok" : "fail",
      detail: held
        ? `unicast input: no group to join${
          input.port !== undefined ? `; port ${input.port} held` : ""
        }`
        : `port ${input.port} on ${input.address} is not held`,
      hint: held ? null : "another program may hold the port: see the relay's log",
    };
  }
  const family = input.group.includes(":") ? 6 : 4;
  const group = canonicalText(input.group);
  const source = input.source !== undefined && !input.source.includes("/")
    ? canonicalText(input.source)
    : null;
  const pool = f.memberships.find((m) => m.interface === input.interface && m.family === family);
  const labels = [group, ...(source ? [`(${source}, ${group})`] : [])];
  const held = pool?.memberships.find((m) => labels.includes(m));
  if (held === undefined) {
    return {
      step: "membership",
      status: "fail",
      detail: `${group} is not joined on ${input.interface}`,
      hint: f.stats?.active === false
        ? "joined once the rule's interfaces are present"
        : "the kernel refused the join: see the relay's log (e.g. raise net.ipv4.igmp_max_memberships)",
    };
  }
  return {
    step: "membership",
    status: "ok",
    detail: `${held} joined on ${input.interface} (${source ? "source-specific" : "any source"}; ${
      pool!.memberships.length
    } memberships held there)`,
    hint: null,
  };
}

function querierStep(f: ExplainFacts, input: Input): ExplainStep {
  if (input.group === undefined) {
    return { step: "querier", status: "skip", detail: "unicast input", hint: null };
  }
  const family = input.group.includes(":") ? 6 : 4;
  const proto = family === 4 ? "IGMP" : "MLD";
  const q = f.queriers.find((x) => x.interface === input.interface && x.family === family);
  if (q === undefined) {
    return {
      step: "querier",
      status: "skip",
      detail: "not listened for (no group joined here)",
      hint: null,
    };
  }
  if (q.error !== null) {
    return { step: "querier", status: "skip", detail: `cannot listen: ${q.error}`, hint: null };
  }
  const facts = { querier: q.querier, version: q.version, queries: q.queries };
  if (q.querier === null || q.last_query_at_ms === null) {
    return {
      step: "querier",
      status: "warn",
      detail: `no ${proto} querier heard on ${input.interface} in ${
        Math.round((f.now - q.since_ms) / 1000)
      } s`,
      hint: `a switch that snoops ${proto} forwards a group only where a querier asked for it: ` +
        "enable a querier on this segment (on the switch or a router)",
      facts,
    };
  }
  const gone = f.now - q.last_query_at_ms > QUERIER_GONE_MS;
  return {
    step: "querier",
    status: gone ? "warn" : "ok",
    detail: `querier ${q.querier} (${q.version}), last query ${ago(f.now, q.last_query_at_ms)}`,
    hint: gone ? "the querier went quiet: snooping switches will stop forwarding the group" : null,
    facts,
  };
}

/** Drop reasons that rose in the last RECENT_MS, most recent first. */
function recentDrops(f: ExplainFacts): { reason: DropReasonName; at: number; count: number }[] {
  return DROP_REASONS.map((d, i) => ({
    reason: d.name as DropReasonName,
    at: f.drops_at[i] ?? 0,
    count: f.totals[`drop_${d.name}`] ?? 0,
  })).filter((d) => d.at > 0 && f.now - d.at <= RECENT_MS).sort((a, b) => b.at - a.at);
}

/** The rule's own drop reasons: a frame matched it and was not relayed. */
const RULE_DROPS: readonly DropReasonName[] = ["ttl_expired", "fragment", "loop"];

function arrivalStep(f: ExplainFacts, input: Input): ExplainStep {
  const s = f.stats;
  const packets = s?.counters.packets ?? 0;
  const dropped = s?.counters.dropped ?? 0;
  const pps = f.rate?.pps ?? 0;
  const rx = f.input_rx_pps[input.interface] ?? 0;
  const facts = {
    packets,
    dropped,
    pps: Math.round(pps),
    silent_ms: s?.silent_ms ?? null,
    input_rx_pps: Math.round(rx),
  };
  if (s !== undefined && (pps > 0 || (packets > 0 && s.silent_ms < SILENT_MS))) {
    return {
      step: "arrival",
      status: "ok",
      detail: `${Math.round(pps)} packets/s matched (${packets} since the rule started)`,
      hint: null,
      facts,
    };
  }
  const since = packets > 0 && s
    ? `for ${Math.round(s.silent_ms / 1000)} s`
    : `since the rule started`;
  const recent = recentDrops(f);
  const told = (list: typeof recent) =>
    list.slice(0, 3).map((d) => `${d.reason} (${d.count}): ${DROP_HINTS[d.reason](input)}`)
      .join("; ");
  const fail = (detail: string, hint: string): ExplainStep => ({
    step: "arrival",
    status: "fail",
    detail,
    hint,
    facts,
  });
  if (f.rule_dropped_at !== null && f.now - f.rule_dropped_at <= RECENT_MS) {
    const own = recent.filter((d) => RULE_DROPS.includes(d.reason));
    return fail(
      `frames of this stream arrive and are dropped (${dropped} in all); none relayed ${since}`,
      own.length > 0 ? told(own) : "see the drops step",
    );
  }
  const wanted = endpointText({ ...input, interface: undefined }).replace(/^\* /, "");
  if (rx > 0) {
    const others = recent.filter((d) => !RULE_DROPS.includes(d.reason));
    return fail(
      `no packet matched ${since}, while ${input.interface} receives ${Math.round(rx)} frames/s`,
      `none of them is for ${wanted}: check the sender's group, port and source` +
        (others.length > 0 ? `; relay-wide now: ${told(others)}` : ""),
    );
  }
  return fail(
    `no packet matched ${since}, and nothing arrives on ${input.interface}`,
    "check the sender, the path, and IGMP snooping (the querier step)",
  );
}

function dropsStep(f: ExplainFacts): ExplainStep {
  const reasons = DROP_REASONS.map((d, i) => ({
    reason: d.name,
    count: f.totals[`drop_${d.name}`] ?? 0,
    last: ago(f.now, f.drops_at[i] ?? 0),
    at: f.drops_at[i] ?? 0,
  })).filter((d) => d.count > 0).sort((a, b) => b.at - a.at).slice(0, 5);
  const kernel = f.totals.kernel_drops ?? 0;
  const kernelNow = f.kernel_drops_at > 0 && f.now - f.kernel_drops_at <= RECENT_MS;
  const list = reasons.map((r) => `${r.reason} ${r.count} (last ${r.last})`).join(", ");
  return {
    step: "drops",
    status: kernelNow ? "warn" : "ok",
    detail: (kernelNow ? `the kernel dropped frames (RX ring full): ${kernel} in all; ` : "") +
      (list ? `relay-wide: ${list}` : "no frame dropped on this relay"),
    hint: kernelNow
      ? "the relay does not read fast enough: add workers, raise ring.block_count, or check CPU"
      : null,
    facts: { kernel_drops: kernel, reasons: reasons.map(({ at: _at, ...r }) => r) },
  };
}

function outputStep(f: ExplainFacts, index: number): ExplainStep {
  const o = f.rule.outputs[index];
  const subject = endpointText(o);
  const c = f.stats?.outputs[index]?.counters ?? {};
  const at = f.outputs_at[index] ?? { sent_at_ms: null, lost_at_ms: null };
  const facts = {
    packets: c.packets ?? 0,
    ring_full: c.ring_full ?? 0,
    too_big: c.too_big ?? 0,
    errors: c.errors ?? 0,
    ttl_expired: c.ttl_expired ?? 0,
    last_sent: ago(f.now, at.sent_at_ms),
    last_lost: ago(f.now, at.lost_at_ms),
  };
  const base = { step: "output" as const, subject, facts };
  const i = o.interface === undefined
    ? undefined
    : f.interfaces.find((x) => x.name === o.interface);
  if (o.interface !== undefined && (!i || !i.present || !i.up)) {
    return {
      ...base,
      status: "fail",
      detail: `${o.interface} ${!i || !i.present ? "does not exist" : "is down"}`,
      hint: `bring ${o.interface} up, or correct the output's interface`,
    };
  }
  const lostNow = at.lost_at_ms !== null && f.now - at.lost_at_ms <= RECENT_MS;
  if (!lostNow) {
    const sent = facts.packets > 0
      ? `${facts.packets} copies sent, last ${facts.last_sent}`
      : "no copy sent yet";
    return { ...base, status: "ok", detail: `${sent}${i ? `; MTU ${i.mtu}` : ""}`, hint: null };
  }
  const sendingNow = at.sent_at_ms !== null && at.sent_at_ms >= at.lost_at_ms!;
  const why = outputLoss(f, o, facts, i);
  return {
    ...base,
    status: sendingNow ? "warn" : "fail",
    detail: `${sendingNow ? "losing" : "failing"}: ${why.detail}`,
    hint: why.hint,
    facts: { ...facts, ...(why.errno ? { errno: why.errno } : {}) },
  };
}

/** The largest loss counter of an output says why it loses copies. */
function outputLoss(
  f: ExplainFacts,
  o: Rule["outputs"][number],
  c: { ring_full: number; too_big: number; errors: number; ttl_expired: number },
  i: InterfaceState | undefined,
): { detail: string; hint: string; errno?: string } {
  const top = (["errors", "too_big", "ttl_expired", "ring_full"] as const)
    .reduce(
      (a, k) => c[k] > c[a] ? k : a,
      "errors" as "errors" | "too_big" | "ttl_expired" | "ring_full",
    );
  if (top === "too_big") {
    return {
      detail: `${c.too_big} copies larger than the MTU${i ? ` of ${i.name} (${i.mtu})` : ""}`,
      hint: `raise the MTU of ${
        o.interface ?? "the output link"
      }, or lower the sender's datagram size`,
    };
  }
  if (top === "ttl_expired") {
    return {
      detail:
        `${c.ttl_expired} copies not sent: they arrived with TTL 1 and this output decrements it`,
      hint: "raise the sender's TTL, or set `ttl` on this output",
    };
  }
  if (top === "ring_full") {
    return {
      detail: `${c.ring_full} copies dropped: the ${
        o.egress === "routed" ? "socket buffer" : "TX ring"
      } was full`,
      hint: "the output link is slower than the stream: check its speed, or raise `tx_frames`",
    };
  }
  const errno = o.egress === "routed" ? f.errno.routed : f.errno.kick;
  return {
    detail: `${c.errors} sends refused by the kernel${errno ? ` (${errno})` : ""}`,
    hint: (errno && ERRNO_HINTS[errno]) ?? 'see the relay\'s log line "output failing"',
    ...(errno ? { errno } : {}),
  };
}

function residenceStep(f: ExplainFacts): ExplainStep {
  const p50 = residenceQuantileUs(f.totals, 0.5);
  const p99 = residenceQuantileUs(f.totals, 0.99);
  if (p50 === null || p99 === null) {
    return { step: "residence", status: "skip", detail: "no packet timed yet", hint: null };
  }
  const text = (us: number) => us === Infinity ? "over 250 ms" : `≤ ${us} µs`;
  const slow = p99 > 10_000;
  return {
    step: "residence",
    status: slow ? "warn" : "ok",
    detail: `relay-wide time in the relay: p50 ${text(p50)}, p99 ${text(p99)}`,
    hint: slow
      ? "packets wait in the relay: the host is busy (CPU) or the workers are too few"
      : null,
    facts: { p50_us: p50 === Infinity ? null : p50, p99_us: p99 === Infinity ? null : p99 },
  };
}
