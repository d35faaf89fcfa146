/**
 * The explain report's look at the links' kernel counters: one look at a
 * time, shared by every request that asks while it runs, reused while fresh,
 * so a flood of explain requests does not hold a connection each for 300 ms.
 */
import assert from "node:assert/strict";
import { LinkLook, LOOK_FRESH_MS } from "../../src/api/routes/explain.ts";
import type { RelayControl } from "../../src/supervisor/control.ts";

/** A relay whose one link has counted `rx` frames; every read is counted. */
function relayWithLink() {
  const state = { rx: 0, reads: 0 };
  const relay = {
    interfaces() {
      state.reads++;
      return [{ name: "eth1", rx_packets: state.rx }];
    },
  } as unknown as RelayControl;
  return { relay, state };
}

Deno.test("LinkLook: requests during a look share it; a fresh look answers at once; a stale one is looked at again", async () => {
  const { relay, state } = relayWithLink();
  const look = new LinkLook(relay, 100);
  const t0 = performance.now();
  const first = look.rates();
  state.rx = 50; // 50 frames during the look: 500/s over 100 ms
  const [a, b, c] = await Promise.all([first, look.rates(), look.rates()]);
  assert.equal(state.reads, 2, "one look (before and after) for three requests");
  assert.ok(Math.abs(a.eth1 - 500) < 100, JSON.stringify(a));
  assert.deepEqual(b, a);
  assert.deepEqual(c, a);
  assert.ok(performance.now() - t0 >= 95, "the look lasted its 100 ms");
  // Fresh: answered at once from the same look.
  const t1 = performance.now();
  assert.deepEqual(await look.rates(), a);
  assert.ok(performance.now() - t1 < 50);
  assert.equal(state.reads, 2);
  // Stale: a new look, which sees the link idle now.
  await new Promise((r) => setTimeout(r, LOOK_FRESH_MS + 50));
  const later = await look.rates();
  assert.equal(state.reads, 4);
  assert.equal(later.eth1, 0);
});
