/**
 * The one source of truth for mcr's configuration: the YAML file, the HTTP
 * API bodies and the CLI all validate against these zod schemas, and the
 * TypeScript types below are inferred from them.
 *
 * Addresses are written as text in YAML/JSON (dotted-quad IPv4 or IPv6);
 * the data plane converts them to numbers at plan time
 * (src/supervisor/plan.ts). Inputs and outputs choose their family
 * independently: an IPv4 stream may be relayed to IPv6 receivers and back.
 *
 * Where each part lives (this module re-exports them all, so importers need
 * only this one):
 *   fields.ts          primitive fields: interface names, addresses, groups,
 *                      ports, protocols, VLAN ids, source filters, rule names
 *   rule_schema.ts     a rule: its input, outputs and inspection, and the
 *                      destination and endpoint-text helpers
 *   routing_schema.ts  the igmp, mld, pim and msdp sections
 *   schema.ts (here)   ring, api and log sections, the whole file, the
 *                      checks across rules, and the inferred types
 */
import { z } from "zod";
import { MAX_OUTPUTS, MAX_RULES } from "./limits.ts";
import { canonicalText } from "../net/address.ts";
import { protocolNumber } from "./fields.ts";
import {
  inputDestination,
  InputSchema,
  InspectSchema,
  outputDestination,
  OutputSchema,
  ruleInputs,
  RuleSchema,
} from "./rule_schema.ts";
import { IgmpSchema, MldSchema, MsdpSchema, PimSchema } from "./routing_schema.ts";

export * from "./fields.ts";
export * from "./rule_schema.ts";
export * from "./routing_schema.ts";

/** Default API listen address: loopback only. */
export const DEFAULT_LISTEN = "127.0.0.1:8787";

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
   * to a wake-up per packet as soon as a nap brings nothing. A nap takes
   * longer than it asks (its TX kicks, the host's timer): a packet can wait
   * the whole period, mcr_loop_nap_seconds_total / mcr_loop_naps_total (97 µs
   * at the median for 50 on a 2-CPU VM). Default 50; 0: a wake-up per packet.
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
  /**
   * Real-time priority (SCHED_FIFO, 1-99) of the worker threads: a packet's
   * wake-up then preempts every ordinary task on the worker's CPU. Measured
   * on a 2-CPU VM (256 B at 50k pps): p99 0.20-0.21 ms instead of 0.37-0.89,
   * for about 10 % more CPU per packet. Needs CAP_SYS_NICE (or an
   * RLIMIT_RTPRIO allowing it): refused when applied otherwise. Best with
   * worker_cpus, and the NIC's receive processing (IRQ, RPS) on other CPUs: a
   * busy real-time worker leaves its CPU's other tasks only what the kernel's
   * real-time throttling keeps (5 % by default), and receive work deferred to
   * ksoftirqd there waits (measured at 150k pps with RPS on the worker's CPU:
   * 0.1-0.6 % dropped from the backlog in 3 of 9 runs). Unset: the ordinary
   * policy.
   */
  worker_priority: z.int().min(1).max(99).optional(),
  /**
   * A standby thread per worker (default true): a worker that fails is
   * replaced at once by its standby instead of a thread started then (a
   * hang recovered in about 0.76 s instead of 1.16 s here), for about 20 MiB
   * of memory per worker (workers 0-3; others start a thread) and no CPU
   * while idle. Takes effect at start.
   */
  standby_workers: z.boolean().optional(),
  ring: RingSchema.optional(),
  api: ApiSchema.optional(),
  log: LogSchema.optional(),
  igmp: IgmpSchema.optional(),
  mld: MldSchema.optional(),
  pim: PimSchema.optional(),
  msdp: MsdpSchema.optional(),
  rules: z.array(RuleSchema).max(MAX_RULES),
});

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

/** What the cross-rule checks compare of one rule: its inputs' keys and ports, its outputs' targets. */
interface RuleCheckKeys {
  inputs: string[];
  /** `interface|destination|port` of each input with a port (outputs must not feed one). */
  inputPorts: string[];
  /** `interface|destination|port` of each output, null for one without an interface. */
  outputs: (string | null)[];
}

/**
 * Keys by rule object: a validated rule is never mutated, so a change of one
 * rule among 10,000 computes the keys of that one; the checks over the others
 * are map look-ups.
 */
const checkKeys = new WeakMap<Rule, RuleCheckKeys>();

function keysOf(rule: Rule): RuleCheckKeys {
  let k = checkKeys.get(rule);
  if (k !== undefined) return k;
  const legs = ruleInputs(rule);
  k = {
    inputs: legs.map(ruleKey),
    inputPorts: legs.map((input) =>
      input.port === undefined
        ? ""
        : `${input.interface}|${canonical(inputDestination(input))}|${input.port}`
    ),
    outputs: rule.outputs.map((out) =>
      out.interface === undefined
        ? null
        : `${out.interface}|${canonical(outputDestination(out))}|${out.port}`
    ),
  };
  checkKeys.set(rule, k);
  return k;
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
  let outputs = 0;
  for (const r of rules) outputs += r.outputs.length;
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
    const keys = keysOf(rule);
    keys.inputs.forEach((key, leg) => {
      const other = inputs.get(key);
      if (other === i) return; // two legs of one merge: said by the merge's own check
      if (other !== undefined) {
        const at = rule.merge !== undefined ? ["merge", "legs", leg] : ["input"];
        ctx.addIssue({
          code: "custom",
          message:
            `duplicate input: rules[${other}] already relays this interface, group, port and source`,
          path: [...pathPrefix, i, ...at],
        });
      } else inputs.set(key, i);
      if (keys.inputPorts[leg] !== "") inputPorts.add(keys.inputPorts[leg]);
    });
  });
  rules.forEach((rule, i) => {
    keysOf(rule).outputs.forEach((target, j) => {
      if (target === null || !inputPorts.has(target)) return;
      const out = rule.outputs[j];
      ctx.addIssue({
        code: "custom",
        message: `output would feed a relay input back (loop): ${out.interface} ${
          outputDestination(out)
        } port ${out.port} is an input`,
        path: [...pathPrefix, i, "outputs", j],
      });
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

export type Inspect = z.infer<typeof InspectSchema>;
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
