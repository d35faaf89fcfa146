/** LastMoved: when each drop reason, kernel drops and each output's sends and losses last rose. */
import assert from "node:assert/strict";
import { LastMoved } from "../../src/stats/last_moved.ts";
import type { CounterSample } from "../../src/stats/rates.ts";
import {
  DROP_REASONS,
  DROP_SLOT_BASE,
  OUT,
  OUTPUT_SLOTS,
  W,
  WORKER_SLOTS,
} from "../../src/stats/registry.ts";

function sample(at: number, f: (s: CounterSample) => void = () => {}, outputs = 2): CounterSample {
  const s: CounterSample = {
    at_ms: at,
    totals: new Float64Array(WORKER_SLOTS),
    workers: [],
    rule: new Float64Array(0),
    output: new Float64Array(outputs * OUTPUT_SLOTS),
    slots: new Map(),
  };
  f(s);
  return s;
}

Deno.test("LastMoved: times of the last rise, per drop reason, kernel drops and output slot", () => {
  const m = new LastMoved();
  const noMatch = DROP_REASONS.findIndex((d) => d.name === "no_match");
  m.add(sample(1000, (s) => (s.totals[DROP_SLOT_BASE + noMatch] = 5)));
  assert.equal(m.drops[noMatch], 0, "the first sample is only a base");
  m.add(sample(2000, (s) => {
    s.totals[DROP_SLOT_BASE + noMatch] = 9;
    s.totals[W.kernel_drops] = 1;
    s.output[OUT.packets] = 10;
    s.output[OUTPUT_SLOTS + OUT.errors] = 3;
  }));
  assert.equal(m.drops[noMatch], 2000);
  assert.equal(m.kernelDropsAt, 2000);
  assert.deepEqual(m.output(0), { sent_at_ms: 2000, lost_at_ms: null });
  assert.deepEqual(m.output(1), { sent_at_ms: null, lost_at_ms: 2000 });
  // Nothing moves: the times stay.
  m.add(sample(3000, (s) => {
    s.totals[DROP_SLOT_BASE + noMatch] = 9;
    s.totals[W.kernel_drops] = 1;
    s.output[OUT.packets] = 10;
    s.output[OUTPUT_SLOTS + OUT.errors] = 3;
  }, 4));
  assert.equal(m.drops[noMatch], 2000);
  assert.deepEqual(m.output(1), { sent_at_ms: null, lost_at_ms: 2000 });
  // More slots in use: they start unknown; a slot beyond any sample is unknown.
  assert.deepEqual(m.output(3), { sent_at_ms: null, lost_at_ms: null });
  assert.deepEqual(m.output(99), { sent_at_ms: null, lost_at_ms: null });
});
