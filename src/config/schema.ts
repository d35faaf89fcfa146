/**
 * The one source of truth for mcr's configuration: the YAML file, the HTTP
 * API bodies and the CLI all validate against these zod schemas, and the
 * TypeScript types below are inferred from them.
 *
 * Addresses are written as dotted quads in YAML/JSON; the data plane converts
 * them to numbers at plan time (src/supervisor/plan.ts).
 */
import { z } from "zod";

/** Default TTL written into relayed packets when an output does not set one. */
export const DEFAULT_TTL = 64;
/** Default API listen address: loopback only. */
export const DEFAULT_LISTEN = "127.0.0.1:8787";

/** Parses a dotted-quad IPv4 address into an unsigned 32-bit number. */
export function ipv4ToNumber(text: string): number {
  const p = text.split(".");
  return ((+p[0] << 24) | (+p[1] << 16) | (+p[2] << 8) | +p[3]) >>> 0;
}

/** Formats an unsigned 32-bit number as a dotted-quad IPv4 address. */
export function numberToIpv4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

function isMulticastV4(text: string): boolean {
  const first = +text.split(".")[0];
  return first >= 224 && first <= 239;
}

export const InterfaceName = z.string().min(1).max(15).regex(
  /^[A-Za-z0-9_.:@-]+$/,
  "interface names are 1-15 characters: letters, digits, _ . : @ -",
);
export const Ipv4 = z.ipv4({ error: "must be a dotted-quad IPv4 address" });
export const MulticastGroup = Ipv4.refine(isMulticastV4, {
  error: "must be an IPv4 multicast group (224.0.0.0-239.255.255.255)",
});
export const Port = z.int().min(1).max(65535);
/** A source filter: one address (a.b.c.d) or a prefix (a.b.c.d/len). */
export const SourceFilter = z.union([Ipv4, z.cidrv4({ error: "must be an IPv4 address or prefix" })], {
  error: "must be an IPv4 address or prefix (a.b.c.d or a.b.c.d/len)",
});
export const RuleName = z.string().min(1).max(64).regex(
  /^[A-Za-z0-9_.-]+$/,
  "rule names are 1-64 characters: letters, digits, _ . -",
);

/** Where a rule listens: an interface, a group and a UDP port, optionally one sender. */
export const InputSchema = z.strictObject({
  interface: InterfaceName,
  group: MulticastGroup,
  port: Port,
  source: SourceFilter.optional(),
});

/** One copy of the stream: where it goes and how its headers are rewritten. */
export const OutputSchema = z.strictObject({
  interface: InterfaceName,
  group: MulticastGroup,
  port: Port,
  /** IPv4 TTL of relayed packets (default DEFAULT_TTL). */
  ttl: z.int().min(1).max(255).optional(),
  /** DSCP code point written into the TOS byte (ECN bits are kept). */
  dscp: z.int().min(0).max(63).optional(),
  /** Source address of relayed packets (default: the output interface's IPv4 address). */
  source_ip: Ipv4.optional(),
});

/** A relay rule: one input, 1..N outputs. */
export const RuleSchema = z.strictObject({
  name: RuleName,
  input: InputSchema,
  outputs: z.array(OutputSchema).min(1).max(1024),
  /** Expected input rate; sizes the RX ring to hold 200 ms of it. */
  rate_pps: z.int().min(1).max(10_000_000).optional(),
  /** Stream presence: the input counts as stale after this long without packets. */
  stale_after_ms: z.int().min(100).max(86_400_000).optional(),
  /** Forward IPv4 fragments of this stream instead of dropping them. */
  allow_fragments: z.boolean().optional(),
  /** A disabled rule stays in the config but forwards nothing. */
  enabled: z.boolean().optional(),
});

/** Ring geometry overrides (normally derived from rate_pps, see ring_geometry.ts). */
export const RingSchema = z.strictObject({
  block_size_kib: z.int().min(4).max(65536).refine((v) => (v & (v - 1)) === 0, {
    error: "must be a power of two",
  }).optional(),
  block_count: z.int().min(2).max(65536).optional(),
  retire_ms: z.int().min(1).max(1000).optional(),
  tx_frames: z.int().min(64).max(1 << 20).optional(),
  qdisc_bypass: z.boolean().optional(),
});

export const ApiSchema = z.strictObject({
  /** host:port; loopback by default. A non-loopback address requires a token. */
  listen: z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[0-9.]+|localhost):\d{1,5}$/, {
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
});

export const LogSchema = z.strictObject({
  level: z.enum(["debug", "info", "warn", "error"]).optional(),
  format: z.enum(["json", "logfmt"]).optional(),
});

const ConfigObject = z.strictObject({
  version: z.literal(1).optional(),
  /** Number of forwarding workers (PACKET_FANOUT spreads flows across them). */
  workers: z.int().min(1).max(64).optional(),
  ring: RingSchema.optional(),
  api: ApiSchema.optional(),
  log: LogSchema.optional(),
  rules: z.array(RuleSchema).max(100_000),
});

function ruleKey(i: { interface: string; group: string; port: number; source?: string }): string {
  return `${i.interface}|${i.group}|${i.port}|${i.source ?? "*"}`;
}

/**
 * Cross-field checks: unique rule names, no two rules with the same input
 * (interface, group, port, source), and no output that would feed a rule's
 * own input back (same interface, group and port as any rule's input).
 */
export function checkRules(
  rules: readonly Rule[],
  ctx: { addIssue: (issue: { code: "custom"; message: string; path: (string | number)[] }) => void },
  pathPrefix: (string | number)[] = ["rules"],
): void {
  const names = new Map<string, number>();
  const inputs = new Map<string, number>();
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
        message: `duplicate input: rules[${other}] already relays this interface, group, port and source`,
        path: [...pathPrefix, i, "input"],
      });
    } else inputs.set(key, i);
    inputPorts.add(`${rule.input.interface}|${rule.input.group}|${rule.input.port}`);
  });
  rules.forEach((rule, i) => {
    rule.outputs.forEach((out, j) => {
      if (inputPorts.has(`${out.interface}|${out.group}|${out.port}`)) {
        ctx.addIssue({
          code: "custom",
          message:
            `output would feed a relay input back (loop): ${out.interface} ${out.group}:${out.port} is an input`,
          path: [...pathPrefix, i, "outputs", j],
        });
      }
    });
  });
}

/** The whole configuration file. */
export const ConfigSchema = ConfigObject.superRefine((cfg, ctx) => checkRules(cfg.rules, ctx));

export type Input = z.infer<typeof InputSchema>;
export type Output = z.infer<typeof OutputSchema>;
export type Rule = z.infer<typeof RuleSchema>;
export type RingOptions = z.infer<typeof RingSchema>;
export type ApiOptions = z.infer<typeof ApiSchema>;
export type Config = z.infer<typeof ConfigSchema>;
