import { test } from "node:test";
import assert from "node:assert/strict";
import { FanoutIds } from "../../src/supervisor/fanout_ids.ts";
import type { RxPlan } from "../../src/dataplane/plan_types.ts";
import { rxGeometry } from "../../src/supervisor/ring_geometry.ts";

function ring(ifindex: number, spread = false): RxPlan {
  return {
    ifname: `in${ifindex}`,
    ifindex,
    geometry: rxGeometry(10_000, 1500),
    fanoutId: -1,
    filter: [],
    passFragments: false,
    spread,
  };
}

test("one worker and spread rings read without a fanout group", () => {
  const ids = new FanoutIds(1234);
  const one = [ring(2)];
  ids.assign(one, [], 1, true);
  assert.equal(one[0].fanoutId, 0);
  const two = [ring(2), ring(3, true)];
  ids.assign(two, [], 2, true);
  assert.ok(two[0].fanoutId > 0 && two[0].fanoutId <= 0xffff);
  assert.equal(two[1].fanoutId, 0);
});

test("an input keeps its group while its ring stays, and gets a new one when re-created", () => {
  const ids = new FanoutIds(1234);
  const first = [ring(2), ring(3)];
  ids.assign(first, [], 2, true);
  const again = [ring(2), ring(3)];
  ids.assign(again, first, 2, true);
  assert.deepEqual(again.map((r) => r.fanoutId), first.map((r) => r.fanoutId));
  // The worker count changes: rings pass to new groups (a succession), never to one in force.
  const resized = [ring(2), ring(3)];
  ids.assign(resized, first, 3, false);
  for (const r of resized) assert.ok(!first.some((f) => f.fanoutId === r.fanoutId));
  assert.notEqual(resized[0].fanoutId, resized[1].fanoutId);
  // A ring of another kind (here: another size) is re-created too.
  const bigger = [{ ...ring(2), geometry: rxGeometry(500_000, 9000) }, ring(3)];
  ids.assign(bigger, first, 2, true);
  assert.notEqual(bigger[0].fanoutId, first[0].fanoutId);
  assert.equal(bigger[1].fanoutId, first[1].fanoutId);
});

test("hundreds of inputs get distinct ids (no pool of 64 to run out of)", () => {
  const ids = new FanoutIds(77);
  const rings = Array.from({ length: 300 }, (_, i) => ring(i + 2));
  ids.assign(rings, [], 2, true);
  const seen = new Set(rings.map((r) => r.fanoutId));
  assert.equal(seen.size, 300);
  assert.ok(!seen.has(0));
  // And again with all 300 in force: 300 new ones, none shared with those in force.
  const next = Array.from({ length: 300 }, (_, i) => ring(i + 2));
  ids.assign(next, rings, 4, false);
  for (const r of next) assert.ok(!seen.has(r.fanoutId));
});

test("two relays (two pids) start their ids apart", () => {
  const a = [ring(2)];
  const b = [ring(2)];
  new FanoutIds(1000).assign(a, [], 2, true);
  new FanoutIds(1001).assign(b, [], 2, true);
  assert.notEqual(a[0].fanoutId, b[0].fanoutId);
});
