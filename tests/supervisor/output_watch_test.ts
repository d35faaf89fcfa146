/** OutputWatch: a failing output is logged by name with what it lost and the errno's name, at most every 10 s; nothing is read while nothing fails. */
import assert from "node:assert/strict";
import type { Rule } from "../../src/config/schema.ts";
import type { SlotAssignment } from "../../src/supervisor/counter_slots.ts";
import { LOG_EVERY_MS, OutputWatch } from "../../src/supervisor/output_watch.ts";
import { OUTPUT_COUNTERS, OUTPUT_SLOTS, W, WORKER_SLOTS } from "../../src/stats/registry.ts";

const ERRORS = OUTPUT_COUNTERS.findIndex((c) => c.name === "errors");
const RING_FULL = OUTPUT_COUNTERS.findIndex((c) => c.name === "ring_full");

const RULES: Rule[] = [{
  name: "cam1",
  input: { interface: "eth1", group: "239.1.1.1", port: 5001 },
  outputs: [
    { interface: "eth2", group: "239.9.9.9", port: 6001 },
    { egress: "routed", address: "198.51.100.9", port: 6002 },
  ],
}];
const ASSIGNED = new Map([["cam1", { rule: 0, outputs: [3, 4] } as unknown as SlotAssignment]]);

function blocks() {
  const block = () => ({
    worker: new Float64Array(WORKER_SLOTS),
    output: new Float64Array(8 * OUTPUT_SLOTS),
  });
  return { archived: block(), live: [block()] };
}

Deno.test("OutputWatch logs the output that lost copies, by name, with the errno's name, at most once per 10 s", () => {
  const logged: Record<string, unknown>[] = [];
  const watch = new OutputWatch((msg, f) => logged.push({ msg, ...f }));
  const b = blocks();
  const w = b.live[0];
  watch.sample(RULES, ASSIGNED, b, 0);
  assert.equal(logged.length, 0, "nothing failed");
  // The routed output: 1,200 sends refused with ENETUNREACH (101).
  w.output[4 * OUTPUT_SLOTS + ERRORS] = 1200;
  w.worker[W.tx_errors] = 1200;
  w.worker[W.last_routed_errno] = 101;
  watch.sample(RULES, ASSIGNED, b, 1000);
  assert.deepEqual(logged, [{
    msg: "output failing",
    rule: "cam1",
    output: "routed * 198.51.100.9:6002",
    refused: 1200,
    ring_full: 0,
    errno: "ENETUNREACH",
    refused_total: 1200,
    ring_full_total: 0,
  }]);
  // Still failing a second later: not logged again within 10 s; logged again after.
  w.output[4 * OUTPUT_SLOTS + ERRORS] = 1300;
  w.worker[W.tx_errors] = 1300;
  watch.sample(RULES, ASSIGNED, b, 2000);
  assert.equal(logged.length, 1);
  w.output[4 * OUTPUT_SLOTS + ERRORS] = 1400;
  w.worker[W.tx_errors] = 1400;
  watch.sample(RULES, ASSIGNED, b, 1000 + LOG_EVERY_MS);
  assert.equal(logged.length, 2);
  assert.equal(logged[1].refused, 100);
  // The l2 output's ring full: its own line, no errno (nothing was refused).
  w.output[3 * OUTPUT_SLOTS + RING_FULL] = 7;
  w.worker[W.tx_ring_full] = 7;
  watch.sample(RULES, ASSIGNED, b, 1000 + LOG_EVERY_MS + 1000);
  assert.equal(logged.length, 3);
  assert.equal(logged[2].output, "eth2 239.9.9.9:6001");
  assert.equal(logged[2].ring_full, 7);
  assert.equal(logged[2].errno, undefined);
});

Deno.test("OutputWatch reads no output while the relay's totals did not move", () => {
  const watch = new OutputWatch(() => {});
  const b = blocks();
  let reads = 0;
  const rules = new Proxy(RULES, {
    get(target, key, receiver) {
      if (key === Symbol.iterator) reads++;
      return Reflect.get(target, key, receiver);
    },
  });
  b.live[0].worker[W.tx_errors] = 5;
  watch.sample(rules, ASSIGNED, b, 0);
  assert.equal(reads, 1, "the first change is looked at");
  for (let t = 1; t < 100; t++) watch.sample(rules, ASSIGNED, b, t * 1000);
  assert.equal(reads, 1, "then nothing while nothing moves");
});
