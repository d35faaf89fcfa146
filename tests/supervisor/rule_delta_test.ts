/**
 * Plans reach the workers as deltas (src/supervisor/worker_pool.ts
 * ruleDelta()), which relies on unchanged rules keeping their RulePlan
 * object (src/supervisor/plan.ts RulePlanCache).
 */
import assert from "node:assert/strict";
import { ConfigSchema } from "../../src/config/schema.ts";
import { buildPlan, RulePlanCache } from "../../src/supervisor/plan.ts";
import { ruleDelta } from "../../src/supervisor/worker_pool.ts";
import { TEST_INTERFACES } from "../helpers/fake_ring.ts";

const facts = new Map(TEST_INTERFACES.map((f) => [f.name, f]));
const rule = (i: number) => ({
  name: `r${i}`,
  input: { interface: "in0", group: `239.1.1.${i}`, port: 5000 },
  outputs: [{ interface: "out1", group: `239.9.9.${i}`, port: 6000 }],
});
const slotsFor = (names: string[]) => new Map(names.map((n, i) => [n, { rule: i, outputs: [i] }]));

Deno.test("an unchanged rule keeps its RulePlan object; a changed or re-slotted one gets a new one", () => {
  const cache = new RulePlanCache();
  const a = ConfigSchema.parse({ rules: [rule(1), rule(2)] });
  const p1 = buildPlan(a, facts, slotsFor(["r1", "r2"]), new Map(), 0, cache);
  const b = {
    ...a,
    rules: [a.rules[0], { ...a.rules[1], outputs: [{ ...a.rules[1].outputs[0], port: 6001 }] }],
  };
  const p2 = buildPlan(b, facts, slotsFor(["r1", "r2"]), new Map(), 0, cache);
  assert.equal(p2.rules[0], p1.rules[0], "r1 unchanged: the same object");
  assert.notEqual(p2.rules[1], p1.rules[1], "r2 changed");
  const p3 = buildPlan(
    b,
    facts,
    new Map([["r1", { rule: 5, outputs: [5] }], ["r2", { rule: 1, outputs: [1] }]]),
    new Map(),
    0,
    cache,
  );
  assert.notEqual(p3.rules[0], p2.rules[0], "new counter slots: a new plan");
  assert.equal(p3.rules[0].slot, 5);
  const moved = new Map(facts);
  moved.set("out1", { ...facts.get("out1")!, mtu: 9000 });
  const p4 = buildPlan(b, moved, slotsFor(["r1", "r2"]), new Map(), 0, cache);
  assert.notEqual(p4.rules[0], p2.rules[0], "an interface changed: a new plan");
});

Deno.test("ruleDelta() sends everything to a worker without a plan, else removals and additions only", () => {
  const cache = new RulePlanCache();
  const a = ConfigSchema.parse({ rules: [rule(1), rule(2), rule(3)] });
  const p1 = buildPlan(a, facts, slotsFor(["r1", "r2", "r3"]), new Map(), 0, cache);
  assert.deepEqual(ruleDelta(null, p1), { all: p1.rules });
  const r4 = ConfigSchema.parse({ rules: [rule(4)] }).rules[0];
  const b = {
    ...a,
    rules: [a.rules[0], { ...a.rules[2], outputs: [{ ...a.rules[2].outputs[0], port: 7000 }] }, r4],
  };
  const p2 = buildPlan(
    b,
    facts,
    new Map([["r1", { rule: 0, outputs: [0] }], ["r3", { rule: 2, outputs: [2] }], ["r4", {
      rule: 3,
      outputs: [3],
    }]]),
    new Map(),
    0,
    cache,
  );
  const d = ruleDelta(p1, p2);
  assert.ok("add" in d);
  assert.deepEqual(d.remove.sort(), ["r2", "r3"], "r2 removed, r3 replaced; r1 not sent");
  assert.deepEqual(d.add.map((r) => r.name).sort(), ["r3", "r4"]);
});
