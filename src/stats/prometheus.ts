/**
 * Prometheus text exposition (format 0.0.4) of a StatsSnapshot. Families and
 * help texts come from src/stats/registry.ts; counters end in _total.
 */
import { inputDestination, outputDestination } from "../config/schema.ts";
import type { InterfaceState, StatsSnapshot } from "./snapshot.ts";
import { residenceBucketName } from "./aggregate.ts";
import { DROP_REASONS, OUTPUT_COUNTERS, RESIDENCE_BUCKETS_US, RULE_COUNTERS, WORKER_COUNTERS } from "./registry.ts";

/** Escapes a label value: backslash, double quote and newline. */
export function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function labels(l: Record<string, string | number>): string {
  const parts = Object.entries(l).map(([k, v]) => `${k}="${escapeLabel(String(v))}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
}

class Family {
  readonly lines: string[] = [];
  constructor(readonly name: string, readonly type: "counter" | "gauge" | "histogram", readonly help: string) {}
  add(l: Record<string, string | number>, value: number, suffix = ""): void {
    this.lines.push(`${this.name}${suffix}${labels(l)} ${Number.isFinite(value) ? value : 0}`);
  }
  render(): string {
    return `# HELP ${this.name} ${this.help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}\n# TYPE ${this.name} ${this.type}\n` +
      this.lines.join("\n") + (this.lines.length ? "\n" : "");
  }
}

export function renderPrometheus(s: StatsSnapshot, interfaces: InterfaceState[]): string {
  const families: Family[] = [];
  const fam = (name: string, type: "counter" | "gauge" | "histogram", help: string) => {
    const f = new Family(name, type, help);
    families.push(f);
    return f;
  };

  fam("mcr_uptime_seconds", "gauge", "Seconds since the relay started").add({}, s.uptime_s);
  const alive = fam("mcr_worker_alive", "gauge", "1 if the forwarding worker is running");
  const restarts = fam("mcr_worker_restarts_total", "counter", "Times the worker was restarted after a fault");
  for (const w of s.workers) {
    alive.add({ worker: w.id }, w.alive ? 1 : 0);
    restarts.add({ worker: w.id }, w.restarts);
  }

  // Worker counters; what exited workers counted stays in worker="exited" so sums never go down.
  for (const c of WORKER_COUNTERS) {
    if (c.name === "heartbeat_ms") continue;
    const f = fam(c.family, c.kind === "gauge" ? "gauge" : "counter", c.help);
    let live = 0;
    for (const w of s.workers) {
      f.add({ worker: w.id }, w.counters[c.name] ?? 0);
      live += w.counters[c.name] ?? 0;
    }
    if (c.kind !== "gauge") f.add({ worker: "exited" }, Math.max(0, (s.totals[c.name] ?? 0) - live));
  }
  const drops = fam("mcr_drop_total", "counter", "Frames dropped, by reason");
  for (const d of DROP_REASONS) {
    let live = 0;
    for (const w of s.workers) {
      const v = w.counters[`drop_${d.name}`] ?? 0;
      drops.add({ worker: w.id, reason: d.name }, v);
      live += v;
    }
    drops.add({ worker: "exited", reason: d.name }, Math.max(0, (s.totals[`drop_${d.name}`] ?? 0) - live));
  }

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

  const ruleFams = RULE_COUNTERS.map((c) => fam(c.family, "counter", c.help));
  const outFams = OUTPUT_COUNTERS.map((c) => fam(c.family, "counter", c.help));
  const silent = fam("mcr_rule_silent_seconds", "gauge", "Seconds since the rule last received a packet");
  for (const r of s.rules) {
    const rl = { rule: r.name, interface: r.input.interface, destination: inputDestination(r.input), port: r.input.port ?? "" };
    RULE_COUNTERS.forEach((c, i) => ruleFams[i].add(rl, r.counters[c.name] ?? 0));
    silent.add({ rule: r.name }, r.silent_ms / 1000);
    r.outputs.forEach((o, j) => {
      const ol = {
        rule: r.name,
        output: j,
        egress: o.egress ?? "l2",
        interface: o.interface ?? "",
        destination: outputDestination(o),
        port: o.port ?? "",
      };
      OUTPUT_COUNTERS.forEach((c, i) => outFams[i].add(ol, o.counters[c.name] ?? 0));
    });
  }

  const up = fam("mcr_interface_up", "gauge", "1 if the interface exists and is up");
  const events = fam("mcr_interface_events_total", "counter", "Times the interface appeared, disappeared or changed");
  const ifRx = fam("mcr_interface_rx_packets_total", "counter", "Frames the interface received (all traffic, kernel counter)");
  for (const i of interfaces) {
    up.add({ interface: i.name }, i.present && i.up ? 1 : 0);
    events.add({ interface: i.name }, i.events);
    ifRx.add({ interface: i.name }, i.rx_packets);
  }
  return families.map((f) => f.render()).join("");
}
