/**
 * InterfaceWatch waits for rtnetlink events in a thread of its own; close()
 * wakes that thread at once and returns only after it has left native code
 * (the test's op sanitizer fails on a call still pending).
 */
import assert from "node:assert/strict";
import { InterfaceWatch } from "../../ffi/iface.ts";

Deno.test("InterfaceWatch.close() wakes the waiting thread at once, well before its 60 s wait would end", async () => {
  const w = InterfaceWatch.open();
  w.follow(() => {});
  await new Promise((r) => setTimeout(r, 100)); // the wait is under way
  const t0 = performance.now();
  await w.close();
  const ms = performance.now() - t0;
  assert.ok(ms < 2000, `closed in ${ms.toFixed(0)} ms`);
  await w.close(); // twice is harmless
});
