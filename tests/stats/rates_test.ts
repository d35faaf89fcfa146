/**
 * Rates from counter samples (src/stats/rates.ts): per second over the
 * window, by rule and output through their counter slots, gauges left out.
 */
import assert from "node:assert/strict";
import { type CounterSample, RateWindow, sumCounters } from "../../src/stats/rates.ts";
import { OUTPUT_SLOTS, RULE_SLOTS, W, WORKER_SLOTS } from "../../src/stats/registry.ts";

function sample(at: number, packets: number, slots: [string, number, number[]][]): CounterSample {
  const totals = new Float64Array(WORKER_SLOTS);
  totals[W.rx_packets] = packets;
  totals[W.heartbeat_ms] = at;
  const rule = new Float64Array(4 * RULE_SLOTS);
  const output = new Float64Array(4 * OUTPUT_SLOTS);
  for (const [, r, outs] of slots) {
    rule[r * RULE_SLOTS] = packets;
    rule[r * RULE_SLOTS + 1] = packets * 100;
    for (const o of outs) output[o * OUTPUT_SLOTS] = packets;
  }
  return {
    at_ms: at,
    totals,
    workers: [{ id: 0, restarts: 0, rx_packets: packets, tx_sent: packets }],
    rule,
    output,
    slots: new Map(slots.map(([name, r, outputs]) => [name, { rule: r, outputs }])),
  };
}

Deno.test("rates are per second between the oldest and newest sample of the window, gauges excluded", () => {
  const w = new RateWindow(5);
  w.add(sample(0, 0, [["a", 0, [0, 1]]]));
  w.add(sample(2000, 4000, [["a", 0, [0, 1]]]));
  const r = w.rates();
  assert.equal(r.window_s, 2);
  assert.equal(r.totals.rx_packets, 2000);
  assert.equal(r.totals.heartbeat_ms, undefined, "a gauge has no rate");
  assert.deepEqual(r.workers["0"], { rx_pps: 2000, tx_pps: 2000 });
  assert.equal(r.rules.a.pps, 2000);
  assert.equal(r.rules.a.bps, 8 * 200_000);
  assert.deepEqual(r.rules.a.outputs.map((o) => o.pps), [2000, 2000]);
});

Deno.test("a rule whose counter slot changed inside the window (removed and added again) starts from zero", () => {
  const w = new RateWindow(5);
  w.add(sample(0, 1000, [["a", 0, [0]]]));
  w.add(sample(1000, 500, [["a", 1, [2]], ["b", 0, [0]]]));
  const r = w.rates();
  assert.equal(r.rules.a.pps, 0, "new slot: no rate from another rule's counters");
  assert.equal(r.rules.a.outputs[0].pps, 0);
  assert.equal(r.rules.b.pps, 0, "counters that went down never give a negative rate");
});

Deno.test("old samples leave the window", () => {
  const w = new RateWindow(2);
  for (let t = 0; t <= 10_000; t += 1000) w.add(sample(t, t, [["a", 0, [0]]]));
  assert.ok(w.rates().window_s <= 3);
  assert.equal(w.rates().rules.a.pps, 1000);
});

Deno.test("no samples, no rates", () => {
  assert.deepEqual(new RateWindow().rates(), { window_s: 0, totals: {}, workers: {}, rules: {} });
});

Deno.test("sumCounters() written into a spare sample's blocks gives what a fresh sample gives; the window hands out the sample that left it", () => {
  const blocks = (seed: number) => ({
    worker: Float64Array.from({ length: WORKER_SLOTS }, (_, i) => seed + i),
    rule: Float64Array.from({ length: 40 * RULE_SLOTS }, (_, i) => seed * 2 + i),
    output: Float64Array.from({ length: 40 * OUTPUT_SLOTS }, (_, i) => seed * 3 + i),
    stream: new Float64Array(0),
  });
  const archived = blocks(1);
  const workers = [{ id: 0, restarts: 0, counters: blocks(5) }, {
    id: 1,
    restarts: 2,
    counters: blocks(9),
  }];
  const slots = new Map([["a", { rule: 3, outputs: [7] }]]);
  const extent = { rules: 30, outputs: 20 };
  const fresh = sumCounters(archived, workers, extent, slots, 1000);
  const window = new RateWindow(1);
  for (let t = 0; t <= 4000; t += 1000) {
    window.add(sumCounters(archived, workers, extent, slots, t));
  }
  const spare = window.spare()!;
  assert.ok(spare, "a sample left the window");
  assert.equal(window.spare(), undefined, "handed out once");
  const reused = sumCounters(archived, workers, extent, slots, 1000, spare);
  assert.equal(reused.rule, spare.rule, "the spare's blocks are written into");
  assert.deepEqual(reused, fresh);
  // Another extent: new blocks, never a block of the wrong size.
  const grown = sumCounters(archived, workers, { rules: 35, outputs: 20 }, slots, 1000, reused);
  assert.notEqual(grown.rule, reused.rule);
  assert.equal(grown.rule.length, 35 * RULE_SLOTS);
});
