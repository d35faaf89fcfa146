/** `mcr routing`: the routing state as tables, and its refusals. */
import assert from "node:assert/strict";
import { formatRouting, routingCommand } from "../../src/cli/remote.ts";
import { formatStatsTable, routingSummary } from "../../src/cli/stats.ts";
import type { RoutingReport } from "../../src/supervisor/control.ts";

const REPORT: RoutingReport = {
  igmp: {
    interfaces: [{
      interface: "eth2",
      address: "10.0.2.1",
      version: 3,
      querier: "10.0.2.1",
      is_querier: true,
      groups: [{
        group: "239.9.9.1",
        mode: "exclude",
        sources: [],
        expires_ms: 250_000,
        last_reporter: "10.0.2.7",
        version: 3,
      }],
    }],
  },
  mld: { interfaces: [] },
  pim: {
    interfaces: [{
      interface: "eth3",
      address: "10.0.3.1",
      dr: "10.0.3.2",
      is_dr: false,
      neighbors: 1,
    }],
    neighbors: [{
      interface: "eth3",
      address: "10.0.3.2",
      dr_priority: 1,
      generation_id: 5,
      holdtime_s: 105,
      expires_ms: 100_000,
      up_ms: 60_000,
    }],
    routes: [{
      interface: "eth3",
      source: "*",
      group: "239.9.9.1",
      neighbor: "10.0.3.2",
      expires_ms: 200_000,
      prune_pending: false,
      rpt_pruned: [],
    }],
    rp: [{ address: "10.0.3.1", groups: "239.0.0.0/8" }],
    registers: [],
  },
  msdp: {
    peers: [{
      peer: "10.0.3.2",
      local: "10.0.3.1",
      state: "established",
      sa_count: 1,
      up_ms: 5000,
    }],
    sa_cache: [{
      source: "10.8.0.1",
      group: "239.5.5.5",
      rp: "10.8.0.254",
      peer: "10.0.3.2",
      expires_ms: 140_000,
    }],
  },
  waiting: [{ interface: "eth9", protocol: "pim", reason: "absent" }],
  counters: {} as RoutingReport["counters"],
  learned_outputs: [{
    rule: "cam1",
    interface: "eth3",
    group: "239.9.9.1",
    port: 5099,
    source: "*",
  }],
  learned_refused: 0,
};

Deno.test("formatRouting() shows each section as a table: who queries, the DR, learned routes and outputs, peers and SAs, what waits", () => {
  const text = formatRouting(REPORT);
  assert.match(text, /eth2\s+10\.0\.2\.1 \(us\)\s+239\.9\.9\.1\s+exclude\s+250\.0s\s+10\.0\.2\.7/);
  assert.match(text, /eth3\s+10\.0\.3\.2\s+10\.0\.3\.2\s+1\s+60\.0s\s+100\.0s/);
  assert.match(text, /output added to rule cam1: eth3 239\.9\.9\.1:5099 \(for \*\)/);
  assert.match(text, /10\.0\.3\.2\s+10\.0\.3\.1\s+established\s+1\s+5\.0s/);
  assert.match(text, /10\.8\.0\.1\s+239\.5\.5\.5\s+10\.8\.0\.254/);
  assert.match(text, /waiting: pim on eth9: absent/);
  const only = formatRouting(REPORT, ["msdp"]);
  assert.ok(!only.includes("IGMP") && only.includes("MSDP"), "one section when asked");
});

Deno.test("mcr routing refuses an unknown section before calling the API", async () => {
  const errors: string[] = [];
  const orig = console.error;
  console.error = (m: string) => errors.push(m);
  try {
    assert.equal(await routingCommand(["bogus", "--api", "http://127.0.0.1:1"]), 1);
  } finally {
    console.error = orig;
  }
  assert.match(errors.join("\n"), /unknown section "bogus"/);
});

Deno.test("mcr stats: one routing line when a protocol is configured, and learned or on-demand outputs marked", () => {
  assert.equal(
    routingSummary(REPORT),
    "routing: IGMP/MLD groups 1 on 1 links (querier on 1)  |  PIM neighbours 1, learned routes 1, DR on 0/1 links  |  MSDP 1/1 peers up, SA cache 1  |  1 waiting",
  );
  assert.equal(routingSummary(null), null);
  const counters = { packets: 5, bytes: 500, ring_full: 0, errors: 1795 };
  const snapshot = {
    at_ms: 0,
    uptime_s: 10,
    totals: {} as Record<string, number>,
    workers: [{ id: 0, alive: true, restarts: 0, heartbeat_age_ms: 1, counters: {} }],
    rules: [{
      name: "cam1",
      input: { interface: "eth1", group: "239.1.1.1", port: 5001 },
      counters,
      silent_ms: 0,
      active: true,
      outputs: [
        { interface: "eth2", group: "239.9.9.1", port: 5099, on_demand: true, counters },
        { interface: "eth3", group: "239.9.9.1", port: 5099, learned: "pim", counters },
      ],
    }],
    rates: { window_s: 1, totals: {}, rules: {} },
  };
  const table = formatStatsTable(
    snapshot as unknown as Parameters<typeof formatStatsTable>[0],
    REPORT,
  );
  assert.match(table, /^routing: IGMP\/MLD groups 1/m);
  assert.match(table, /-> eth2 239\.9\.9\.1:5099 \(on demand\)/);
  assert.match(table, /-> eth3 239\.9\.9\.1:5099 \(pim\)/);
  // Each output's errors beside its ring-full count.
  assert.match(table, /RING_FULL\s+ERRORS$/m);
  assert.match(table, /-> eth2 239\.9\.9\.1:5099 \(on demand\)\s+\d+\s+\S+\s+\S+\s+\d+\s+1795$/m);
});
