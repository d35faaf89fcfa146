/**
 * The API's response bodies as zod schemas: the OpenAPI document's response
 * schemas are generated from them (src/api/openapi.ts), tests validate real
 * responses against them, and the compile-time checks at the end fail when
 * the TypeScript types the handlers return drift away from them.
 */
import { z } from "zod";
import { PROBLEM_TYPES, type ProblemCode } from "./errors.ts";
import { ConfigSchema, InputSchema, RuleName, RuleSchema } from "../config/schema.ts";
import { MAX_RULES } from "../config/limits.ts";
import type { StreamReport } from "../streams/readout.ts";
import { EXPLAIN_STEPS, type ExplainReport } from "../stats/explain.ts";
import type { MergeReport } from "../merge/merge_readout.ts";
import type { HealthReport } from "../stats/health.ts";
import type { Rates } from "../stats/rates.ts";
import type { InterfaceState, StatsSnapshot, WorkerStats } from "../stats/snapshot.ts";
import type { ApplyResult, Resources, RoutingReport } from "../supervisor/control.ts";

/** Counter values by name (src/stats/registry.ts declares them). */
const Counters = z.record(z.string(), z.number()).describe(
  "counter values by name, as declared in src/stats/registry.ts",
);

/** RFC 9457 problem details, as every error is answered (application/problem+json). */
export const ProblemResponse = z.looseObject({
  type: z.string().describe("the problem type: /problems/{code}, a page describing it"),
  title: z.string().describe("the type's title, the same for every problem of the type"),
  status: z.int().describe("the HTTP status"),
  detail: z.string().describe("this occurrence, in words"),
  code: z.enum(Object.keys(PROBLEM_TYPES) as [ProblemCode, ...ProblemCode[]]).describe(
    "the problem type's code, for programs",
  ),
  errors: z.array(z.object({
    detail: z.string(),
    pointer: z.string().describe("JSON Pointer (RFC 6901) to the field: /rules/0/input/port"),
    path: z.string().describe("the same field as a path: rules[0].input.port"),
  })).optional().describe("invalid input: each bad field"),
  key: z.string().optional().describe(
    "restart_required: the key that cannot change while the relay runs",
  ),
  allow: z.array(z.string()).optional().describe("method_not_allowed: the methods the path takes"),
});

export const ApplyResultResponse = z.object({
  added: z.array(z.string()),
  removed: z.array(z.string()),
  changed: z.array(z.string()),
  unchanged: z.int(),
});

export const RuleListResponse = z.array(RuleSchema);

const RestartTimingSchema = z.object({
  cause: z.enum(["threw", "crashed", "stuck"]),
  last_heartbeat_at_ms: z.number().describe(
    "the faulty worker's last loop turn, ms since the epoch",
  ),
  detected_at_ms: z.number().describe("when the supervisor saw the fault, ms since the epoch"),
  forwarding_at_ms: z.number().nullable().describe(
    "when the replacement had the plan in force, ms since the epoch (null until then)",
  ),
  replacement: z.enum(["standby", "new_thread"]).optional().describe(
    "what replaced the worker: its standby thread, ready at once, or a thread started then",
  ),
}).describe("the restart that started this worker, timed by the relay itself");

const WorkerStatsSchema = z.object({
  id: z.int(),
  alive: z.boolean(),
  restarts: z.int(),
  last_restart: RestartTimingSchema.nullable(),
  heartbeat_age_ms: z.number().describe("milliseconds since the worker's loop last turned"),
  counters: Counters,
});

export const WorkersResponse = z.array(WorkerStatsSchema);

export const StatsResponse = z.object({
  at_ms: z.number().describe("wall clock of the reading, ms since the epoch"),
  uptime_s: z.number(),
  totals: Counters,
  workers: WorkersResponse,
  rules: z.array(z.object({
    name: z.string(),
    input: InputSchema.describe("the input; a merge rule's first leg"),
    legs: z.array(InputSchema).optional().describe("a merge rule's legs"),
    counters: Counters,
    outputs: z.array(
      z.looseObject({ interface: z.string().optional(), counters: Counters })
        .describe("the output as configured (the keys of Rule.outputs[]) and its counters"),
    ),
    silent_ms: z.number(),
    active: z.boolean().describe("false while the rule waits for its interfaces"),
  })),
  rates: z.object({
    window_s: z.number(),
    totals: Counters,
    workers: z.record(z.string(), Counters),
    rules: z.record(
      z.string(),
      z.object({
        pps: z.number(),
        bps: z.number(),
        outputs: z.array(z.object({ pps: z.number(), bps: z.number() })),
      }),
    ),
  }).describe("per-second rates over the last window_s seconds"),
});

export const InterfacesResponse = z.array(z.object({
  name: z.string(),
  ifindex: z.int(),
  up: z.boolean(),
  present: z.boolean(),
  mtu: z.int(),
  mac: z.string(),
  ipv4: z.string().nullable(),
  ipv6: z.string().nullable(),
  roles: z.array(z.enum(["input", "output"])),
  events: z.int().describe("appearances, disappearances and changes seen since start"),
  rx_packets: z.number(),
  rx_dropped: z.number(),
  tx_packets: z.number(),
  tx_dropped: z.number(),
}));

export const ResourcesResponse = z.object({
  slots: z.object({ rules: z.int(), outputs: z.int(), max_rules: z.int(), max_outputs: z.int() }),
  memberships: z.array(z.object({
    interface: z.string(),
    family: z.union([z.literal(4), z.literal(6)]),
    ifindex: z.int(),
    sockets: z.int(),
    memberships: z.array(z.string()),
  })),
  unicast_ports: z.array(z.string()),
  workers: z.array(z.object({
    id: z.int(),
    alive: z.boolean(),
    rings: z.array(
      z.object({ kind: z.enum(["rx", "tx", "routed"]), ifindex: z.int(), bytes: z.number() }),
    ),
    ring_bytes: z.number(),
  })),
  ring_bytes: z.number(),
  ring_bytes_limit_per_worker: z.number(),
  stuck_threads: z.array(z.object({ id: z.int(), stuck_ms: z.number() })),
  waiters: z.object({ freed: z.int(), deferred: z.int(), freedInUse: z.int() }),
});

const ListenerLinks = z.object({
  interfaces: z.array(z.object({
    interface: z.string(),
    address: z.string(),
    version: z.int(),
    querier: z.string().describe(
      "the link's querier: this router, or the lower address heard querying",
    ),
    is_querier: z.boolean(),
    groups: z.array(z.object({
      group: z.string(),
      mode: z.enum(["exclude", "include"]),
      sources: z.array(z.string()),
      expires_ms: z.number(),
      last_reporter: z.string(),
      version: z.int(),
    })),
  })),
});

export const RoutingResponse = z.object({
  igmp: ListenerLinks,
  mld: ListenerLinks.describe("as igmp, for IPv6 groups (versions: MLDv1, MLDv2)"),
  pim: z.object({
    interfaces: z.array(z.object({
      interface: z.string(),
      address: z.string(),
      dr: z.string().nullable(),
      is_dr: z.boolean(),
      neighbors: z.int(),
    })),
    neighbors: z.array(z.object({
      interface: z.string(),
      address: z.string(),
      dr_priority: z.number().nullable(),
      generation_id: z.number().nullable(),
      holdtime_s: z.int(),
      expires_ms: z.number().describe("-1: never (holdtime 0xffff)"),
      up_ms: z.number(),
    })),
    routes: z.array(z.object({
      interface: z.string(),
      source: z.string().describe('"*" for a (*,G) join'),
      group: z.string(),
      neighbor: z.string(),
      expires_ms: z.number().nullable(),
      prune_pending: z.boolean(),
      rpt_pruned: z.array(z.string()).describe(
        "(*,G): sources an (S,G,rpt) Prune took off the route",
      ),
    })).describe("learned routes: joins from downstream routers, never persisted"),
    rp: z.array(z.object({ address: z.string(), groups: z.string() })),
    registers: z.array(z.object({
      source: z.string(),
      group: z.string(),
      rp: z.string(),
      state: z.enum(["join", "prune"]).describe(
        "join: Null-Registers every 5 s; prune: suppressed by a Register-Stop",
      ),
      sent: z.int(),
      stops: z.int(),
    })).describe("(S,G)s of relayed streams registered with a remote RP"),
  }),
  msdp: z.object({
    peers: z.array(z.record(z.string(), z.unknown())),
    sa_cache: z.array(
      z.object({
        source: z.string(),
        group: z.string(),
        rp: z.string(),
        peer: z.string(),
        expires_ms: z.number(),
      }),
    ),
  }),
  waiting: z.array(z.object({
    interface: z.string().describe("the interface (igmp, pim) or the local address (msdp)"),
    protocol: z.enum(["igmp", "mld", "pim", "msdp"]),
    reason: z.string(),
  })),
  counters: Counters,
  learned_outputs: z.array(z.object({
    rule: z.string(),
    interface: z.string(),
    group: z.string(),
    port: z.int().optional(),
    source: z.string(),
  })).describe("outputs added to rules by PIM joins (shown in stats with learned: pim)"),
  learned_refused: z.int().describe(
    "outputs joins asked for that were left out: over pim.max_learned_routes, or feeding a rule's input back",
  ),
});

export const HealthResponse = z.object({
  status: z.enum(["ok", "warning", "critical"]),
  reasons: z.array(z.string()).describe("the first 20 reasons, critical ones first"),
  reasons_total: z.int().describe("how many reasons there are in all"),
  rules: z.int(),
  workers: z.int(),
  rx_pps: z.number(),
  loss_pps: z.number(),
  tx_errors_pps: z.number(),
  silent_s: z.number(),
  rule: z.string().optional(),
});

export const VersionResponse = z.object({
  version: z.string(),
  commit: z.string(),
  deno: z.string(),
  liburing: z.string(),
  uptime_s: z.number(),
});

const PidReportSchema = z.object({
  pid: z.int(),
  kind: z.string().describe("pat, cat, pmt, pcr, es, null or other"),
  packets: z.number(),
  cc_errors: z.number(),
  last_seen_s: z.number().describe("seconds since its last packet (-1: never)"),
});

export const StreamReportSchema = z.object({
  rule: z.string(),
  mode: z.string().describe("udp, rtp, rtp+ts or ts"),
  state: z.enum(["ok", "warning", "critical"]),
  reasons: z.array(z.string()),
  indicator: z.string().nullable().describe("the indicator behind the state"),
  packets: z.number(),
  bytes: z.number(),
  packets_per_second: z.number(),
  bits_per_second: z.number(),
  last_packet_ms: z.number().describe(
    "kernel receive time of the last datagram, ms since the epoch",
  ),
  interarrival_ms: z.object({ min: z.number(), mean: z.number(), max: z.number(), p99: z.number() })
    .nullable(),
  rtp: z.record(z.string(), z.number()).nullable().describe(
    "RFC 3550: packets, invalid, lost (lost_final plus gaps still within 100), duplicates, reordered, restarts, ssrc_changes, ssrc, payload_type, clock_rate, jitter (timestamp units), jitter_ms, jitter_max_ms",
  ),
  ts: z.record(z.string(), z.union([z.number(), z.array(PidReportSchema)])).nullable().describe(
    "ETSI TR 101 290 counters (priority 1: sync_loss, sync_byte_error, pat_error, cc_error, pmt_error, pid_error; priority 2: transport_error, crc_error, pcr_repetition_error, pcr_discontinuity_error, pts_error, cat_error), null_packets, invalid, packet_size, pcr_interval_max_ms, pcr_drift_ppm, and pids",
  ),
});
export const StreamsResponse = z.array(StreamReportSchema);

export const MergeReportSchema = z.object({
  rule: z.string(),
  mode: z.string().describe("pass-through, resequence or failover"),
  key: z.string().describe("rtp, sequence or hash"),
  window_ms: z.number(),
  state: z.enum(["ok", "warning", "critical"]),
  reasons: z.array(z.string()),
  figures: z.record(z.string(), z.number()).describe(
    "forwarded, duplicates, late, lost (on every leg: unrecoverable), lost_single, lost_multi, rejected, resyncs, window_overflows, switches, active_leg",
  ),
  locked_leg: z.number().describe("failover: the manual lock, -1 for none"),
  legs: z.array(
    z.looseObject({
      leg: z.number(),
      interface: z.string(),
      destination: z.string(),
      port: z.number().nullable(),
      state: z.enum(["up", "down"]),
      last_packet_age_ms: z.number().nullable(),
      last_packet_ms: z.number().describe("kernel receive time of its last datagram (0: none)"),
    }).describe(
      "the leg and its figures: packets, bytes, first, duplicates, late, lost, recovered, rejected, pd_ms, pd_max_ms",
    ),
  ),
  diversity: z.object({
    window_s: z.number(),
    single: z.number(),
    multi: z.number(),
    common_mode: z.number().nullable().describe("multi / (single + multi); null without losses"),
  }),
  switches: z.array(
    z.object({ at_ms: z.number(), from: z.number(), to: z.number(), reason: z.string() }),
  ).describe("failover: the last changes of the active leg"),
});
export const MergesResponse = z.array(MergeReportSchema);

export const ExplainResponse = z.object({
  rule: z.string(),
  verdict: z.enum(["ok", "warn", "fail"]).describe("the worst step"),
  at_ms: z.number(),
  steps: z.array(z.object({
    step: z.enum(EXPLAIN_STEPS),
    status: z.enum(["ok", "warn", "fail", "skip"]),
    detail: z.string().describe("what was found, one line"),
    hint: z.string().nullable().describe("what to do, one line; null when nothing"),
    subject: z.string().optional().describe("the input (a merge's leg) or output of the step"),
    facts: z.record(z.string(), z.unknown()).optional().describe("the figures the step judged"),
  })).describe(
    "in path order: rule, per input (interface, membership, querier), arrival, drops, per output, residence",
  ),
});

/** PUT /api/v1/merges/:name/lock: the leg to send alone, or null to lift the lock. */
export const LockBody = z.strictObject({ leg: z.int().min(0).max(15).nullable() });

export const LogLevelBody = z.strictObject({ level: z.enum(["debug", "info", "warn", "error"]) });
export const LogLevelResponse = z.object({ level: z.enum(["debug", "info", "warn", "error"]) });

/**
 * POST /api/v1/rules:batch: rules to add and names to remove, as one change.
 * (The route reads `add` item by item with RuleSchema, to name the first bad rule.)
 */
export const RuleBatchBody = z.strictObject({
  add: z.array(RuleSchema).max(MAX_RULES).optional(),
  remove: z.array(RuleName).max(MAX_RULES).optional(),
});

/** Every named schema of the document's components, by name. */
export const RESPONSE_SCHEMAS = {
  Rule: RuleSchema,
  Config: ConfigSchema,
  Problem: ProblemResponse,
  ApplyResult: ApplyResultResponse,
  RuleList: RuleListResponse,
  Stats: StatsResponse,
  Workers: WorkersResponse,
  Interfaces: InterfacesResponse,
  Resources: ResourcesResponse,
  Routing: RoutingResponse,
  Streams: StreamsResponse,
  Stream: StreamReportSchema,
  Merges: MergesResponse,
  Merge: MergeReportSchema,
  Explain: ExplainResponse,
  LockBody,
  RuleBatchBody,
  Health: HealthResponse,
  Version: VersionResponse,
  LogLevel: LogLevelResponse,
} as const;

// ---- compile-time: what the handlers return fits these schemas ------------------
// Each line fails `deno check` when the type on the right no longer fits the schema.
type Fits<Schema, T extends Schema> = T;
export type _Checks = [
  Fits<z.infer<typeof StatsResponse>, StatsSnapshot & { rates: Rates }>,
  Fits<z.infer<typeof WorkersResponse>, WorkerStats[]>,
  Fits<z.infer<typeof InterfacesResponse>, InterfaceState[]>,
  Fits<z.infer<typeof ResourcesResponse>, Resources>,
  Fits<z.infer<typeof RoutingResponse>, RoutingReport>,
  Fits<z.infer<typeof StreamsResponse>, StreamReport[]>,
  Fits<z.infer<typeof MergesResponse>, MergeReport[]>,
  Fits<z.infer<typeof ExplainResponse>, ExplainReport>,
  Fits<z.infer<typeof HealthResponse>, HealthReport>,
  Fits<z.infer<typeof ApplyResultResponse>, ApplyResult>,
];
