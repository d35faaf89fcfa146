/**
 * TTL like a router, and the loop guard (src/dataplane/loop_guard.ts):
 * specified through processBlock() on fake rings.
 */
import assert from "node:assert/strict";
import { processBlock } from "../../src/dataplane/forward_loop.ts";
import { GUARD_WINDOW_MS } from "../../src/dataplane/loop_guard.ts";
import {
  fakeWorker,
  outputCounters,
  planFor,
  ruleCounters,
  workerCounters,
} from "../helpers/fake_ring.ts";
import { udpFrame } from "../helpers/frames.ts";

const rule = (outputs: unknown[]) => ({
  rules: [{ name: "r", input: { interface: "in0", group: "239.1.1.1", port: 5001 }, outputs }],
});
const DECREMENT = rule([{ interface: "out1", group: "239.9.9.1", port: 6001 }]);
const FIXED = rule([{ interface: "out1", group: "239.9.9.1", port: 6001, ttl: 16 }]);
const MIXED = rule([
  { interface: "out1", group: "239.9.9.1", port: 6001, ttl: 16 },
  { interface: "out2", group: "239.9.9.2", port: 6002 },
]);

/** Runs frames through one block; returns the TTL of each frame queued on out1's ring. */
function relay(config: unknown, frames: Uint8Array[]) {
  const w = fakeWorker(planFor(config), { blockCount: 4 });
  w.arena.rx[0].fillBlock(0, frames);
  processBlock(w.state, w.inputs[0]);
  const ttls = w.arena.tx[0].frames().map((f) => f.bytes[14 + 8]);
  return { w, ttls };
}

Deno.test("an output without ttl writes the input's TTL minus one, and a packet arriving with TTL 1 or 0 goes nowhere (ttl_expired)", () => {
  const { w, ttls } = relay(DECREMENT, [
    udpFrame({ ttl: 9, id: 1 }),
    udpFrame({ ttl: 2, id: 2 }),
    udpFrame({ ttl: 1, id: 3 }),
    udpFrame({ ttl: 0, id: 4 }),
  ]);
  assert.deepEqual(ttls, [8, 1]);
  const c = workerCounters(w.state);
  assert.equal(c.drop_ttl_expired, 2);
  assert.equal(c.matched, 2);
  assert.equal(c.rx_packets, 4);
  // The rule's own count of its stream's frames not relayed (mcr explain tells it per rule).
  assert.deepEqual(ruleCounters(w.state, 0).dropped, 2);
  assert.deepEqual(ruleCounters(w.state, 0).packets, 2);
});

Deno.test("an output with ttl writes it, even for a sender that uses TTL 1", () => {
  const { w, ttls } = relay(FIXED, [udpFrame({ ttl: 1, id: 1 }), udpFrame({ ttl: 200, id: 2 })]);
  assert.deepEqual(ttls, [16, 16]);
  assert.equal(workerCounters(w.state).drop_ttl_expired, 0);
});

Deno.test("a rule with both kinds of output sends a TTL 1 packet only where the TTL is fixed, and counts the other copy", () => {
  const { w, ttls } = relay(MIXED, [udpFrame({ ttl: 1, id: 1 })]);
  assert.deepEqual(ttls, [16]);
  assert.equal(w.arena.tx[1].frames().length, 0);
  const slot = w.inputs[0].rules.values().next().value!.outputs[1].slot;
  assert.equal(outputCounters(w.state, slot).ttl_expired, 1);
  assert.equal(workerCounters(w.state).matched, 1);
});

Deno.test("the loop guard drops a relayed datagram that comes back from one of the relay's own source addresses", () => {
  const w = fakeWorker(planFor(FIXED), { blockCount: 4 });
  const original = udpFrame({ src: "10.0.0.5", id: 77, payload: 40 });
  // What comes back after a loop: same id, ports, length and payload, our source, another TTL.
  const back = udpFrame({ src: "10.0.1.1", id: 77, payload: 40, ttl: 5 });
  const repeat = udpFrame({ src: "10.0.0.5", id: 77, payload: 40 });
  w.arena.rx[0].fillBlock(0, [original, back, repeat]);
  processBlock(w.state, w.inputs[0]);
  const c = workerCounters(w.state);
  assert.equal(c.drop_loop, 1, "the return is dropped as a loop");
  assert.equal(c.matched, 2, "the sender's own identical repeat is not a loop");
  assert.equal(w.arena.tx[0].frames().length, 2);
});

Deno.test("the loop guard forgets after its window, and outputs that decrement the TTL need no guard", () => {
  const w = fakeWorker(planFor(FIXED), { blockCount: 4 });
  w.arena.rx[0].fillBlock(0, [udpFrame({ src: "10.0.0.5", id: 9 })]);
  processBlock(w.state, w.inputs[0]);
  const realNow = Date.now;
  try {
    Date.now = () => realNow() + GUARD_WINDOW_MS + 50;
    w.arena.rx[0].fillBlock(1, [udpFrame({ src: "10.0.1.1", id: 9, ttl: 5 })]);
    processBlock(w.state, w.inputs[0]);
  } finally {
    Date.now = realNow;
  }
  assert.equal(workerCounters(w.state).drop_loop, 0);
  const d = fakeWorker(planFor(DECREMENT), { blockCount: 4 });
  assert.equal(d.inputs[0].rules.values().next().value!.guard, null);
});
