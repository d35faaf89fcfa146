/**
 * Counter slots: kept across changes, reused after release, assigned
 * transactionally (a proposal that is not committed leaves no trace).
 */
import assert from "node:assert/strict";
import type { Rule } from "../../src/config/schema.ts";
import { CounterSlots } from "../../src/supervisor/counter_slots.ts";

function rule(name: string, ...ports: number[]): Rule {
  return {
    name,
    input: { interface: "eth1", group: "239.1.1.1", port: 5000 },
    outputs: ports.map((port) => ({ interface: "eth2", group: "239.9.9.9", port })),
  };
}

Deno.test("CounterSlots keeps a rule's slots while the rule and its outputs stay", () => {
  const slots = new CounterSlots();
  slots.propose([rule("a", 1, 2), rule("b", 3)]).commit();
  const a = slots.assigned.get("a")!;
  slots.propose([rule("b", 3), rule("a", 2, 1), rule("c", 4)]).commit();
  const after = slots.assigned.get("a")!;
  assert.equal(after.rule, a.rule);
  assert.deepEqual(
    after.outputs,
    [a.outputs[1], a.outputs[0]],
    "outputs keep their slot by destination, not position",
  );
});

Deno.test("CounterSlots.commit() returns what is no longer used, and those slots are reused", () => {
  const slots = new CounterSlots();
  slots.propose([rule("a", 1), rule("b", 2)]).commit();
  const b = slots.assigned.get("b")!;
  const released = slots.propose([rule("a", 1)]).commit();
  assert.deepEqual(released, {
    rules: [b.rule],
    outputs: [b.outputs[0]],
    streams: [],
    resetStreams: [],
  });
  slots.propose([rule("a", 1), rule("z", 9)]).commit();
  assert.deepEqual(slots.assigned.get("z"), {
    rule: b.rule,
    outputs: [b.outputs[0]],
    outputKeys: ["l2|eth2|239.9.9.9|9"],
    streamKey: "",
    mergeKey: "",
  });
  assert.deepEqual(slots.inUse(), { rules: 2, outputs: 2, streams: 0 });
});

Deno.test("CounterSlots.propose() changes nothing until committed: a failed apply leaks no slot", () => {
  const slots = new CounterSlots(4, 8);
  slots.propose([rule("a", 1)]).commit();
  for (let i = 0; i < 100; i++) slots.propose([rule("a", 1), rule("b", 2), rule("c", 3)]); // never committed
  assert.deepEqual(slots.inUse(), { rules: 1, outputs: 1, streams: 0 });
  assert.deepEqual([...slots.assigned.keys()], ["a"]);
  // All four slots are still there for a change that does succeed.
  slots.propose([rule("a", 1), rule("b", 2), rule("c", 3), rule("d", 4)]).commit();
  assert.deepEqual(slots.inUse(), { rules: 4, outputs: 4, streams: 0 });
});

Deno.test("CounterSlots.propose() refuses more rules than slots with a RangeError, changing nothing", () => {
  const slots = new CounterSlots(2, 8);
  slots.propose([rule("a", 1)]).commit();
  assert.throws(() => slots.propose([rule("a", 1), rule("b", 2), rule("c", 3)]), RangeError);
  assert.deepEqual(slots.inUse(), { rules: 1, outputs: 1, streams: 0 });
});

Deno.test("CounterSlots: a proposal made before another commit cannot be committed", () => {
  const slots = new CounterSlots();
  const stale = slots.propose([rule("a", 1)]);
  slots.propose([rule("b", 1)]).commit();
  assert.throws(() => stale.commit(), /stale/);
});

Deno.test("CounterSlots gives inspected rules a stream slot: kept while inspected, a new epoch when the settings change, released with the rule", () => {
  const slots = new CounterSlots(16, 16, 2);
  const inspected = (name: string, mode: "rtp" | "ts") => ({ ...rule(name, 1), inspect: { mode } });
  slots.propose([inspected("a", "rtp"), rule("b", 2)]).commit();
  const a = slots.assigned.get("a")!;
  assert.equal(a.stream, 0);
  assert.equal(slots.assigned.get("b")!.stream, undefined);
  slots.propose([inspected("a", "rtp"), inspected("b", "ts")]).commit();
  assert.deepEqual([slots.assigned.get("a")!.stream, slots.assigned.get("a")!.streamEpoch], [
    0,
    a.streamEpoch,
  ]);
  assert.equal(slots.assigned.get("b")!.stream, 1);
  assert.throws(
    () => slots.propose([inspected("a", "ts"), inspected("b", "ts"), inspected("c", "ts")]),
    RangeError,
  );
  // New settings for a at capacity: the same slot, a new epoch, reported for a reset.
  const r = slots.propose([inspected("a", "ts"), inspected("b", "ts")]).commit();
  assert.equal(slots.assigned.get("a")!.stream, 0);
  assert.notEqual(slots.assigned.get("a")!.streamEpoch, a.streamEpoch);
  assert.deepEqual([r.streams, r.resetStreams], [[], [0]]);
  assert.deepEqual(slots.propose([]).commit().streams.sort(), [0, 1]);
});
