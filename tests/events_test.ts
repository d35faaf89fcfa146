/**
 * The event bus (src/events.ts): every subscriber gets every event in
 * order; one that stops reading is dropped once `limit` behind, without
 * delaying publish() or the others.
 */
import assert from "node:assert/strict";
import { EventBus } from "../src/events.ts";

Deno.test("every subscriber receives every event, in order", async () => {
  const bus = new EventBus();
  const a = bus.subscribe();
  const b = bus.subscribe();
  for (let i = 0; i < 5; i++) bus.publish("stats", { i });
  for (const s of [a, b]) {
    for (let i = 0; i < 5; i++) assert.deepEqual((await s.next())!.data, { i });
  }
  const waiting = a.next();
  bus.publish("config", { added: ["x"] });
  assert.equal((await waiting)!.type, "config", "a waiting reader is woken");
});

Deno.test("a subscriber that stops reading is dropped at its limit; publish never waits, the others get everything", async () => {
  const bus = new EventBus();
  const slow = bus.subscribe(10);
  const fast = bus.subscribe(10);
  const got: number[] = [];
  const reader = (async () => {
    for (;;) {
      const e = await fast.next();
      if (e === null) break;
      got.push(e.data.i as number);
    }
  })();
  for (let i = 0; i < 1000; i++) {
    assert.equal(
      bus.publish("stats", { i }),
      undefined,
      "publish is synchronous: it never waits for a reader",
    );
    if (i % 5 === 4) await new Promise((r) => setTimeout(r, 0)); // the fast reader runs now and then
  }
  assert.equal(slow.closed, true, "the slow one was dropped");
  assert.equal(bus.dropped, 1);
  assert.equal(bus.subscribers, 1);
  assert.equal(await slow.next(), null);
  fast.close();
  await reader;
  assert.deepEqual(got, Array.from({ length: 1000 }, (_, i) => i), "the fast one missed nothing");
});
