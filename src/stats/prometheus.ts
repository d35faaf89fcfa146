/**
 * Prometheus text exposition (format 0.0.4) of a StatsSnapshot. Families and
 * help texts come from src/stats/registry.ts; counters end in _total.
 */
import { endpointText, inputDestination, outputDestination } from "../config/schema.ts";
import type { InterfaceState, StatsSnapshot } from "./snapshot.ts";
import { residenceBucketName } from "./aggregate.ts";
import { metricValue, STATE_VALUE, type StreamReport } from "../streams/readout.ts";
import type { MergeReport } from "../merge/merge_readout.ts";
import { LEG_SLOTS, type MergeSlotSpec, PAIR_SLOTS } from "../merge/merge_slots.ts";
import { STREAM_SLOTS, type StreamSlotName, type StreamSlotSpec } from "../streams/stream_slots.ts";
import {
  type CounterSpec,
  DROP_REASONS,
  OUTPUT_COUNTERS,
  PROTOCOL_COUNTERS,
  RESIDENCE_BUCKETS_US,
  RULE_COUNTERS,
  WORKER_COUNTERS,
} from "./registry.ts";

const NEEDS_ESCAPE = /[\\"\n]/;

/** Escapes a label value: backslash, double quote and newline. */
export function escapeLabel(v: string): string {
  if (!NEEDS_ESCAPE.test(v)) return v;
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function labels(l: Record<string, string | number>): string {
  const parts = Object.entries(l).map(([k, v]) => `${k}="${escapeLabel(String(v))}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
}

type FamilyType = "counter" | "gauge" | "histogram";

class Family {
  readonly lines: string[] = [];
  constructor(
    readonly name: string,
    readonly type: FamilyType,
    readonly help: string,
  ) {}
  add(l: Record<string, string | number>, value: number, suffix = ""): void {
    this.addLabelled(labels(l), value, suffix);
  }
  /** A series whose label text (`{k="v",...}`, from labels()) is made once for many families. */
  addLabelled(labelText: string, value: number, suffix = ""): void {
    this.lines.push(`${this.name}${suffix}${labelText} ${Number.isFinite(value) ? value : 0}`);
  }
  render(): string {
    return `# HELP ${this.name} ${
      this.help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")
    }\n# TYPE ${this.name} ${this.type}\n` +
      this.lines.join("\n") + (this.lines.length ? "\n" : "");
  }
}

/** What /metrics shows besides the counters: the build, the process, the configuration's history. */
/** What the API's front door (src/api/front.ts) did: connections held, accepted, and closed by cause. */
export interface FrontStats {
  open: number;
  accepted: number;
  /** Closed at the connection cap to admit a newcomer. */
  evicted: number;
  /** Times the cap was reached with every connection busy: newcomers waited in the accept queue. */
  cap_waits: number;
  header_timeouts: number;
  idle_timeouts: number;
  accept_errors: number;
}

export interface ExporterExtras {
  build?: Record<string, string>;
  process?: {
    cpuSeconds: number;
    residentBytes: number;
    openFds: number;
    startTimeSeconds: number;
  };
  /** Rules of the configuration that are disabled (they have no counters). */
  disabledRules?: string[];
  /** The last configuration change (API, SIGHUP, interface follow-up): whether it was applied, and when. */
  lastChange?: { ok: boolean; atMs: number } | null;
  /** Inspected streams (src/streams/): one series per rule in each stream family. */
  streams?: readonly StreamReport[];
  /** Merged pairs (src/merge/): one series per rule (and leg) in each merge family. */
  merges?: readonly MergeReport[];
  /** The API's front door (src/api/front.ts): connections open, accepted and closed by cause. */
  front?: FrontStats;
  /** Routing-protocol state, when IGMP, PIM or MSDP is configured. */
  routing?: {
    counters: Record<string, number>;
    neighbors: number;
    groups: number;
    routes: number;
    msdpPeers: { peer: string; established: boolean }[];
    saCache: number;
  };
}

/** The label that names an output: stable across reorderings (interface, destination, port), not its index. */
export function outputName(
  o: { egress?: string; interface?: string; group?: string; address?: string; port?: number },
): string {
  return endpointText(o);
}

/** Declares a family: families are served in the order they are declared. */
type DeclareFamily = (name: string, type: FamilyType, help: string) => Family;

/** The /metrics text: process, workers, rules and outputs, streams, routing, interfaces, in that order. */
export function renderPrometheus(
  s: StatsSnapshot,
  interfaces: InterfaceState[],
  extras: ExporterExtras = {},
): string {
  const families: Family[] = [];
  const fam: DeclareFamily = (name, type, help) => {
    const f = new Family(name, type, help);
    families.push(f);
    return f;
  };
  processFamilies(fam, s, extras);
  workerFamilies(fam, s);
  dropFamilies(fam, s);
  residenceFamilies(fam, s);
  ruleFamilies(fam, s, extras);
  streamFamilies(fam, extras);
  mergeFamilies(fam, extras);
  routingFamilies(fam, extras);
  interfaceFamilies(fam, interfaces);
  return families.map((f) => f.render()).join("");
}

/** The build, the process, the uptime and the last configuration change. */
function processFamilies(fam: DeclareFamily, s: StatsSnapshot, extras: ExporterExtras): void {
  if (extras.build) {
    fam("mcr_build_info", "gauge", "Build of this relay (value 1)").add(extras.build, 1);
  }
  if (extras.process) {
    const p = extras.process;
    fam("process_cpu_seconds_total", "counter", "CPU time of the relay process, user and system")
      .add({}, p.cpuSeconds);
    fam("process_resident_memory_bytes", "gauge", "Resident memory of the relay process").add(
      {},
      p.residentBytes,
    );
    fam("process_open_fds", "gauge", "Open file descriptors of the relay process").add(
      {},
      p.openFds,
    );
    fam(
      "process_start_time_seconds",
      "gauge",
      "Start time of the relay process, seconds since the epoch",
    ).add({}, p.startTimeSeconds);
  }
  fam("mcr_uptime_seconds", "gauge", "Seconds since the relay started").add({}, s.uptime_s);
  if (extras.lastChange !== undefined) {
    const c = extras.lastChange;
    fam(
      "mcr_config_last_change_successful",
      "gauge",
      "1 if the last configuration change (API, SIGHUP, interface follow-up) was applied",
    )
      .add({}, c === null || c.ok ? 1 : 0);
    fam(
      "mcr_config_last_change_timestamp_seconds",
      "gauge",
      "When the last configuration change was tried, seconds since the epoch",
    )
      .add({}, c === null ? 0 : c.atMs / 1000);
  }
  if (extras.front) apiFamilies(fam, extras.front);
}

/** The API's front door: how many connections it holds, and why it closed the others. */
function apiFamilies(fam: DeclareFamily, f: FrontStats): void {
  fam("mcr_api_connections_open", "gauge", "API connections open").add({}, f.open);
  fam("mcr_api_connections_accepted_total", "counter", "API connections accepted").add(
    {},
    f.accepted,
  );
  const closed = fam(
    "mcr_api_connections_closed_total",
    "counter",
    "API connections the relay closed: evicted at the connection cap, a request head too slow, idle",
  );
  closed.add({ reason: "evicted" }, f.evicted);
  closed.add({ reason: "header_timeout" }, f.header_timeouts);
  closed.add({ reason: "idle_timeout" }, f.idle_timeouts);
  fam("mcr_api_accept_errors_total", "counter", "API accept() failures (e.g. out of descriptors)")
    .add({}, f.accept_errors);
  fam(
    "mcr_api_connection_cap_waits_total",
    "counter",
    "Times every API connection was busy at the cap: newcomers waited in the accept queue",
  ).add({}, f.cap_waits);
}

/** Worker liveness and restarts, then the worker counters. */
function workerFamilies(fam: DeclareFamily, s: StatsSnapshot): void {
  const alive = fam("mcr_worker_alive", "gauge", "1 if the forwarding worker is running");
  const restarts = fam(
    "mcr_worker_restarts_total",
    "counter",
    "Times the worker was restarted after a fault",
  );
  for (const w of s.workers) {
    alive.add({ worker: w.id }, w.alive ? 1 : 0);
    restarts.add({ worker: w.id }, w.restarts);
  }

  // Worker counters; what exited workers counted stays in worker="exited" so sums never go down.
  for (const c of WORKER_COUNTERS as readonly CounterSpec[]) {
    if (c.name === "heartbeat_ms") continue;
    const f = fam(c.family, c.kind === "gauge" ? "gauge" : "counter", c.help);
    const scale = c.scale ?? 1;
    let live = 0;
    for (const w of s.workers) {
      f.add({ worker: w.id }, (w.counters[c.name] ?? 0) * scale);
      live += w.counters[c.name] ?? 0;
    }
    if (c.kind !== "gauge") {
      f.add({ worker: "exited" }, Math.max(0, (s.totals[c.name] ?? 0) - live) * scale);
    }
  }
}

/** Drops by worker and reason (exited workers' in worker="exited"). */
function dropFamilies(fam: DeclareFamily, s: StatsSnapshot): void {
  const drops = fam("mcr_drop_total", "counter", "Frames dropped, by reason");
  for (const d of DROP_REASONS) {
    let live = 0;
    for (const w of s.workers) {
      const v = w.counters[`drop_${d.name}`] ?? 0;
      drops.add({ worker: w.id, reason: d.name }, v);
      live += v;
    }
    drops.add(
      { worker: "exited", reason: d.name },
      Math.max(0, (s.totals[`drop_${d.name}`] ?? 0) - live),
    );
  }
}

/** The residence-time histogram of each worker. */
function residenceFamilies(fam: DeclareFamily, s: StatsSnapshot): void {
  const residence = fam(
    "mcr_residence_seconds",
    "histogram",
    "Time packets spent in the relay: from the kernel's receive time in the RX ring to the TX kick of their batch (frames mode)",
  );
  for (const w of s.workers) {
    let cumulative = 0;
    for (let i = 0; i <= RESIDENCE_BUCKETS_US.length; i++) {
      cumulative += w.counters[residenceBucketName(i)] ?? 0;
      const le = i < RESIDENCE_BUCKETS_US.length ? String(RESIDENCE_BUCKETS_US[i] / 1e6) : "+Inf";
      residence.add({ worker: w.id, le }, cumulative, "_bucket");
    }
    residence.add({ worker: w.id }, (w.counters.residence_sum_us ?? 0) / 1e6, "_sum");
    residence.add({ worker: w.id }, w.counters.residence_count ?? 0, "_count");
  }
}

/** Rule and output counters, rule silence and state (disabled rules included). */
function ruleFamilies(fam: DeclareFamily, s: StatsSnapshot, extras: ExporterExtras): void {
  const ruleFams = RULE_COUNTERS.map((c) => fam(c.family, "counter", c.help));
  const outFams = OUTPUT_COUNTERS.map((c) => fam(c.family, "counter", c.help));
  const silent = fam(
    "mcr_rule_silent_seconds",
    "gauge",
    "Seconds since the rule last received a packet",
  );
  const lastPacket = fam(
    "mcr_rule_last_packet_timestamp_seconds",
    "gauge",
    "When the rule last received a packet, seconds since the epoch (0: never)",
  );
  const state = fam(
    "mcr_rule_state",
    "gauge",
    "1 for the rule's state: active (forwarding), waiting (for its interfaces) or disabled",
  );
  const states = ["active", "waiting", "disabled"];
  for (const r of s.rules) {
    // Each label set is rendered once and shared by the families that carry it.
    const rl = labels({
      rule: r.name,
      interface: r.input.interface,
      destination: inputDestination(r.input),
      port: r.input.port ?? "",
    });
    RULE_COUNTERS.forEach((c, i) => ruleFams[i].addLabelled(rl, r.counters[c.name] ?? 0));
    const byRule = labels({ rule: r.name });
    silent.addLabelled(byRule, r.silent_ms / 1000);
    lastPacket.addLabelled(
      byRule,
      (r.counters.packets ?? 0) > 0 ? (s.at_ms - r.silent_ms) / 1000 : 0,
    );
    const now = r.active ? "active" : "waiting";
    for (const st of states) state.add({ rule: r.name, state: st }, now === st ? 1 : 0);
    r.outputs.forEach((o) => {
      const ol = labels({
        rule: r.name,
        output: outputName(o),
        egress: o.egress ?? "l2",
        interface: o.interface ?? "",
        destination: outputDestination(o),
        port: o.port ?? "",
      });
      OUTPUT_COUNTERS.forEach((c, i) => outFams[i].addLabelled(ol, o.counters[c.name] ?? 0));
    });
  }

  for (const name of extras.disabledRules ?? []) {
    for (const st of ["active", "waiting", "disabled"]) {
      state.add({ rule: name, state: st }, st === "disabled" ? 1 : 0);
    }
  }
}

/** Stream health and the stream families of the inspected rules. */
function streamFamilies(fam: DeclareFamily, extras: ExporterExtras): void {
  if (extras.streams && extras.streams.length > 0) {
    const st = fam(
      "mcr_stream_state",
      "gauge",
      "Stream health of an inspected rule: 0 ok, 1 warning, 2 critical (the reasons: GET /api/v1/streams)",
    );
    for (const r of extras.streams) st.add({ rule: r.rule }, STATE_VALUE[r.state]);
    for (const spec of STREAM_SLOTS as readonly StreamSlotSpec[]) {
      if (!spec.family || spec.kind === "state") continue;
      const f = fam(
        spec.family,
        spec.kind === "counter" ? "counter" : "gauge",
        spec.help,
      );
      for (const r of extras.streams) {
        const v = metricValue(r, spec.name as StreamSlotName);
        if (v !== undefined) f.add({ rule: r.rule }, v);
      }
    }
  }
}

/** Merged pairs (src/merge/): every declared pair and leg figure, labelled by rule (and leg). */
function mergeFamilies(fam: DeclareFamily, extras: ExporterExtras): void {
  const merges = extras.merges ?? [];
  if (merges.length === 0) return;
  const st = fam(
    "mcr_merge_state",
    "gauge",
    "Health of a merged pair: 0 ok, 1 warning, 2 critical (the reasons: GET /api/v1/merges)",
  );
  for (const m of merges) st.add({ rule: m.rule }, STATE_VALUE[m.state]);
  for (const spec of PAIR_SLOTS as readonly MergeSlotSpec[]) {
    if (!spec.family) continue;
    const f = fam(spec.family, spec.kind === "counter" ? "counter" : "gauge", spec.help);
    for (const m of merges) f.add({ rule: m.rule }, m.figures[spec.name]);
  }
  const up = fam("mcr_merge_leg_up", "gauge", "1 while the leg brings datagrams (leg_timeout_ms)");
  for (const m of merges) {
    for (const l of m.legs) up.add({ rule: m.rule, leg: l.leg }, l.state === "up" ? 1 : 0);
  }
  for (const spec of LEG_SLOTS as readonly MergeSlotSpec[]) {
    if (!spec.family) continue;
    const f = fam(spec.family, spec.kind === "counter" ? "counter" : "gauge", spec.help);
    // The report gives times in ms (pd_ms, last_us as the age): back to the family's seconds.
    const key = spec.name.endsWith("_us") ? spec.name.replace(/_us$/, "_ms") : spec.name;
    for (const m of merges) {
      for (const l of m.legs) {
        const v = spec.name === "last_us" ? null : l[key];
        if (typeof v === "number") {
          f.add({ rule: m.rule, leg: l.leg }, key.endsWith("_ms") ? v / 1000 : v);
        }
      }
    }
  }
}

/** Routing-protocol counters and gauges (IGMP, MLD, PIM, MSDP). */
function routingFamilies(fam: DeclareFamily, extras: ExporterExtras): void {
  if (extras.routing) {
    const r = extras.routing;
    for (const c of PROTOCOL_COUNTERS) {
      fam(c.family, "counter", c.help).add({}, r.counters[c.name] ?? 0);
    }
    fam("mcr_pim_neighbors", "gauge", "PIM neighbours on pim interfaces").add({}, r.neighbors);
    fam("mcr_pim_learned_routes", "gauge", "Routes joined by downstream PIM routers").add(
      {},
      r.routes,
    );
    fam("mcr_igmp_groups", "gauge", "Groups present on igmp interfaces (interface, group pairs)")
      .add({}, r.groups);
    const peer = fam(
      "mcr_msdp_peer_established",
      "gauge",
      "1 while the MSDP session with the peer is up",
    );
    for (const p of r.msdpPeers) peer.add({ peer: p.peer }, p.established ? 1 : 0);
    fam("mcr_msdp_sa_cache_entries", "gauge", "Source-Active entries learned from MSDP peers").add(
      {},
      r.saCache,
    );
  }
}

/** Interface presence, events and kernel RX counters. */
function interfaceFamilies(fam: DeclareFamily, interfaces: InterfaceState[]): void {
  const up = fam("mcr_interface_up", "gauge", "1 if the interface exists and is up");
  const events = fam(
    "mcr_interface_events_total",
    "counter",
    "Times the interface appeared, disappeared, changed, or went down or up",
  );
  const ifRx = fam(
    "mcr_interface_rx_packets_total",
    "counter",
    "Frames the interface received (all traffic, kernel counter)",
  );
  for (const i of interfaces) {
    up.add({ interface: i.name }, i.present && i.up ? 1 : 0);
    events.add({ interface: i.name }, i.events);
    ifRx.add({ interface: i.name }, i.rx_packets);
  }
}
