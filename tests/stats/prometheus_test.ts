/**
 * /metrics as Prometheus tooling reads it: `promtool check metrics` finds
 * nothing to complain about; the alert rules pass `promtool check rules`;
 * every query of the Grafana dashboard names a family /metrics serves.
 */
import assert from "node:assert/strict";
import { createApp } from "../../src/api/app.ts";
import { BASE_CONFIG, fakeDeps, FakeRelay } from "../helpers/fake_relay.ts";
import { dashboard } from "../../examples/monitoring/dashboard.ts";
import { formattedMarkdown, RUNBOOKS } from "../../src/ui/runbooks.ts";

const FRONT = {
  open: 3,
  accepted: 900,
  evicted: 640,
  cap_waits: 4,
  header_timeouts: 5,
  idle_timeouts: 7,
  accept_errors: 2,
};

async function metricsText(): Promise<string> {
  const relay = new FakeRelay(structuredClone(BASE_CONFIG));
  const app = createApp({ ...fakeDeps(relay), front: () => FRONT });
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

Deno.test("/metrics shows what the API's front door holds and why it closed connections", async () => {
  const text = await metricsText();
  assert.match(text, /^mcr_api_connections_open 3$/m);
  assert.match(text, /^mcr_api_connections_accepted_total 900$/m);
  assert.match(text, /^mcr_api_connections_closed_total\{reason="evicted"\} 640$/m);
  assert.match(text, /^mcr_api_connections_closed_total\{reason="header_timeout"\} 5$/m);
  assert.match(text, /^mcr_api_connections_closed_total\{reason="idle_timeout"\} 7$/m);
  assert.match(text, /^mcr_api_accept_errors_total 2$/m);
  assert.match(text, /^mcr_api_connection_cap_waits_total 4$/m);
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

Deno.test("the alerts fire on what they should for any job name, with their runbook URLs (promtool test rules)", async () => {
  const tests = new URL("../fixtures/alerts_test.yml", import.meta.url).pathname;
  const r = await promtool(["test", "rules", tests]);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /SUCCESS/);
});

Deno.test("every alert has a runbook (served at /runbooks and in docs/runbooks.md), every runbook an alert, and a runbook_url to it; no alert assumes a job name", async () => {
  const rules = Deno.readTextFileSync(
    new URL("../../examples/monitoring/mcr-alerts.yml", import.meta.url),
  );
  const alerts = [...rules.matchAll(/- alert: (\w+)/g)].map((m) => m[1]);
  assert.ok(alerts.length >= 10);
  assert.deepEqual(alerts.toSorted(), RUNBOOKS.map((r) => r.alert).toSorted());
  const urls = [
    ...rules.matchAll(/runbook_url: "http:\/\/\{\{ \$labels\.instance \}\}\/runbooks#(\w+)"/g),
  ]
    .map((m) => m[1]);
  assert.deepEqual(urls, alerts, "each alert links its own runbook");
  assert.doesNotMatch(rules, /job="/, "no job name assumed");
  const md = Deno.readTextFileSync(new URL("../../docs/runbooks.md", import.meta.url));
  assert.equal(
    md,
    await formattedMarkdown(),
    "docs/runbooks.md is up to date (deno run src/ui/runbooks.ts)",
  );
  for (const a of alerts) assert.match(md, new RegExp(`^## ${a}$`, "m"));
  const app = createApp(fakeDeps(new FakeRelay(structuredClone(BASE_CONFIG)), {
    token: "s3cret-token-0123456789",
    tokenForReads: true,
  }));
  const page = await app.request("/runbooks");
  assert.equal(page.status, 200, "readable without the token, like /health: it is documentation");
  const html = await page.text();
  for (const a of alerts) assert.ok(html.includes(`id="${a}"`), a);
  assert.doesNotMatch(html, /<script/i);
});

Deno.test("the dashboard filters every query by the job and instance variables and rates over $__rate_interval", () => {
  const d = dashboard() as {
    templating: { list: { name: string }[] };
    panels: {
      title: string;
      fieldConfig: { defaults: { unit: string } };
      targets: { expr: string }[];
    }[];
  };
  assert.deepEqual(d.templating.list.map((v) => v.name), ["datasource", "job", "instance"]);
  for (const p of d.panels) {
    for (const t of p.targets) {
      assert.match(t.expr, /job=~"\$job", instance=~"\$instance"/, t.expr);
      assert.doesNotMatch(t.expr, /\[\d+[smh]\]/, `${t.expr}: a fixed rate window`);
      if (t.expr.includes("rate(")) assert.match(t.expr, /\$__rate_interval/);
      if (/^sum/.test(t.expr)) {
        assert.match(t.expr, /by \([^)]*instance/, `${t.expr}: relays apart`);
      }
    }
  }
  const fds = d.panels.find((p) => p.targets.some((t) => t.expr.includes("process_open_fds")))!;
  assert.notEqual(fds.fieldConfig.defaults.unit, "bytes", "descriptors are not bytes");
  assert.ok(
    d.panels.some((p) => p.targets.some((t) => t.expr.includes("mcr_output_packets_total"))),
  );
});

Deno.test("every query of the Grafana dashboard (and alert) names a metric family /metrics serves; the file is what the script writes", async () => {
  const text = await metricsText();
  const served = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
  // Families served only with inspected or merged rules (the fake relay has none): declared by name.
  const source = Deno.readTextFileSync(new URL("../../src/stats/prometheus.ts", import.meta.url));
  for (const name of ["mcr_stream_state", "mcr_merge_state"]) {
    assert.ok(source.includes(`"${name}"`), name);
    served.add(name);
  }
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
