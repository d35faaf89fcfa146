/** Counter blocks -> snapshot: sums with archived totals, gauges never summed. */
import assert from "node:assert/strict";
import { aggregate, type CounterBlocks } from "../../src/stats/aggregate.ts";
import {
  MAX_OUTPUT_SLOTS,
  MAX_RULE_SLOTS,
  OUTPUT_SLOTS,
  RULE_SLOTS,
  W,
  WORKER_SLOTS,
} from "../../src/stats/registry.ts";

function blocks(): CounterBlocks {
  return {
    worker: new Float64Array(WORKER_SLOTS),
    rule: new Float64Array(MAX_RULE_SLOTS * RULE_SLOTS),
    output: new Float64Array(MAX_OUTPUT_SLOTS * OUTPUT_SLOTS),
  };
}

Deno.test("aggregate() adds exited workers' totals, and takes gauges (heartbeat, last errno) as the largest, not the sum", () => {
  const a = blocks(), b = blocks(), archived = blocks();
  a.worker[W.rx_packets] = 10;
  b.worker[W.rx_packets] = 5;
  archived.worker[W.rx_packets] = 100;
  a.worker[W.last_routed_errno] = 101;
  b.worker[W.last_routed_errno] = 113;
  a.worker[W.heartbeat_ms] = 1_000;
  b.worker[W.heartbeat_ms] = 2_000;
  a.rule[3 * RULE_SLOTS] = 7;
  archived.rule[3 * RULE_SLOTS] = 1;
  b.output[9 * OUTPUT_SLOTS] = 4;
  const snap = aggregate({
    now: 2_500,
    startedAt: 0,
    workers: [{ id: 0, alive: true, restarts: 1, counters: a }, {
      id: 1,
      alive: true,
      restarts: 0,
      counters: b,
    }],
    archived,
    rules: [{
      name: "r",
      input: { interface: "eth1", group: "239.1.1.1", port: 1 },
      outputs: [{ interface: "eth2", group: "239.2.2.2", port: 2 }],
    }],
    slots: new Map([["r", { rule: 3, outputs: [9] }]]),
    forwarding: new Set(["r"]),
    lastChange: new Map([["r", { changedAt: 2_000 }]]),
  });
  assert.equal(snap.totals.rx_packets, 115);
  assert.equal(snap.totals.last_routed_errno, 113);
  assert.equal(snap.totals.heartbeat_ms, 2_000);
  assert.equal(snap.rules[0].counters.packets, 8);
  assert.equal(snap.rules[0].outputs[0].counters.packets, 4);
  assert.equal(snap.rules[0].silent_ms, 500);
  assert.equal(snap.rules[0].active, true);
  assert.deepEqual(snap.workers.map((w) => w.heartbeat_age_ms), [1_500, 500]);
});
