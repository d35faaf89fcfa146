/**
 * /metrics as Prometheus tooling reads it: `promtool check metrics` finds
 * nothing to complain about; the alert rules pass `promtool check rules`;
 * every query of the Grafana dashboard names a family /metrics serves.
 */
import assert from "node:assert/strict";
import { createApp } from "../../src/api/app.ts";
import { BASE_CONFIG, fakeDeps, FakeRelay } from "../helpers/fake_relay.ts";
import { dashboard } from "../../examples/monitoring/dashboard.ts";

async function metricsText(): Promise<string> {
  const relay = new FakeRelay(structuredClone(BASE_CONFIG));
  const app = createApp(fakeDeps(relay));
  const res = await app.request("/metrics");
  assert.equal(res.status, 200);
  return await res.text();
}

async function promtool(args: string[], stdin?: string): Promise<{ code: number; out: string }> {
  const p = new Deno.Command("promtool", {
    args,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = p.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const o = await p.output();
  return {
    code: o.code,
    out: new TextDecoder().decode(o.stdout) + new TextDecoder().decode(o.stderr),
  };
}

Deno.test("promtool check metrics finds nothing wrong in /metrics", async () => {
  const text = await metricsText();
  const r = await promtool(["check", "metrics"], text);
  assert.equal(r.code, 0, r.out);
  assert.equal(r.out.trim(), "");
});

Deno.test("/metrics carries build info, process metrics, rule state, last packet time and the last change's outcome", async () => {
  const text = await metricsText();
  for (
    const family of [
      "mcr_build_info",
      "process_cpu_seconds_total",
      "process_resident_memory_bytes",
      "process_open_fds",
      "process_start_time_seconds",
      "mcr_rule_state",
      "mcr_rule_last_packet_timestamp_seconds",
      "mcr_loop_stall_seconds",
      "mcr_drop_total",
    ]
  ) assert.match(text, new RegExp(`^# TYPE ${family} `, "m"), family);
  assert.match(text, /^mcr_rule_state\{rule="[^"]+",state="active"\} 1$/m);
  assert.match(text, /^process_open_fds [1-9]\d*$/m, "the process has descriptors open");
  assert.doesNotMatch(text, /output="\d+"/, "outputs are named, not numbered");
});

Deno.test("the alert rules pass promtool check rules", async () => {
  const rules = new URL("../../examples/monitoring/mcr-alerts.yml", import.meta.url).pathname;
  const r = await promtool(["check", "rules", rules]);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /SUCCESS: \d+ rules found/);
});

Deno.test("every query of the Grafana dashboard (and alert) names a metric family /metrics serves; the file is what the script writes", async () => {
  const text = await metricsText();
  const served = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
  const d = dashboard() as { panels: { targets: { expr: string }[] }[] };
  const rules = Deno.readTextFileSync(
    new URL("../../examples/monitoring/mcr-alerts.yml", import.meta.url),
  );
  const exprs = [
    ...d.panels.flatMap((p) => p.targets.map((t) => t.expr)),
    ...[...rules.matchAll(/expr: (.*)/g)].map((m) => m[1]),
  ];
  for (const expr of exprs) {
    for (const name of expr.match(/\b(mcr|process)_[a-z_]+/g) ?? []) {
      const family = name.replace(/_(bucket|sum|count)$/, "");
      assert.ok(served.has(family), `${expr}: ${family} is not served`);
    }
  }
  const file = JSON.parse(
    Deno.readTextFileSync(new URL("../../examples/monitoring/mcr-grafana.json", import.meta.url)),
  );
  assert.deepEqual(
    file,
    dashboard(),
    "examples/monitoring/mcr-grafana.json is up to date (deno run examples/monitoring/dashboard.ts)",
  );
});

Deno.test("with routing sections, /metrics carries every protocol counter and the routing gauges, and promtool accepts it; GET /api/v1/routing fits its schema", async () => {
  const { RoutingResponse } = await import("../../src/api/responses.ts");
  const { PROTOCOL_COUNTERS } = await import("../../src/stats/registry.ts");
  const config = {
    ...structuredClone(BASE_CONFIG),
    pim: { interfaces: ["eth9"] },
    msdp: { peers: [{ address: "10.0.0.2", local: "10.0.0.1" }] },
  };
  const counters = Object.fromEntries(PROTOCOL_COUNTERS.map((c, i) => [c.name, i]));
  const report = {
    igmp: { interfaces: [] },
    mld: { interfaces: [] },
    pim: {
      interfaces: [{
        interface: "eth9",
        address: "10.0.0.1",
        dr: "10.0.0.2",
        is_dr: false,
        neighbors: 1,
      }],
      neighbors: [{
        interface: "eth9",
        address: "10.0.0.2",
        dr_priority: 1,
        generation_id: 7,
        holdtime_s: 105,
        expires_ms: 1000,
        up_ms: 5000,
      }],
      routes: [],
      rp: [],
      registers: [],
    },
    msdp: { peers: [{ peer: "10.0.0.2", local: "10.0.0.1", state: "established" }], sa_cache: [] },
    waiting: [],
    counters,
    learned_outputs: [],
    learned_refused: 0,
  };
  class RoutingRelay extends FakeRelay {
    routing() {
      return structuredClone(report) as never;
    }
  }
  const app = createApp(fakeDeps(new RoutingRelay(config as typeof BASE_CONFIG)));
  const text = await (await app.request("/metrics")).text();
  const r = await promtool(["check", "metrics"], text);
  assert.equal(r.code, 0, r.out);
  for (const c of PROTOCOL_COUNTERS) {
    assert.match(text, new RegExp(`^${c.family} ${counters[c.name]}$`, "m"), c.family);
  }
  assert.match(text, /^mcr_pim_neighbors 1$/m);
  assert.match(text, /^mcr_msdp_peer_established\{peer="10\.0\.0\.2"\} 1$/m);
  const body = await (await app.request("/api/v1/routing")).json();
  RoutingResponse.parse(body);
  const plain = createApp(fakeDeps(new FakeRelay(structuredClone(BASE_CONFIG))));
  assert.equal(
    (await plain.request("/api/v1/routing")).status,
    404,
    "a relay without routing state says so",
  );
});
