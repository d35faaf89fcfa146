import assert from "node:assert/strict";
import { LatencyRecorder } from "../../src/tools/latency.ts";
import { buildPayload, payloadLatencyNs, SENT_OFFSET } from "../../src/tools/payload.ts";

Deno.test("LatencyRecorder reports nearest-rank percentiles in microseconds over any number of samples", () => {
  const r = new LatencyRecorder();
  assert.equal(r.summary(), null);
  for (let i = 1; i <= 100_000; i++) r.add(i * 1000); // 1..100,000 µs, added in order
  const s = r.summary()!;
  assert.equal(s.count, 100_000);
  assert.equal(s.p50_us, 50_000);
  assert.equal(s.p90_us, 90_000);
  assert.equal(s.p99_us, 99_000);
  assert.equal(s.p999_us, 99_900);
  assert.equal(s.max_us, 100_000);
});

Deno.test("payloadLatencyNs() subtracts the send time written at byte 24 from the receive time, exactly", () => {
  const p = buildPayload(7, 64);
  const view = new DataView(p.buffer);
  view.setUint32(SENT_OFFSET, 1_764_000_000);
  view.setUint32(SENT_OFFSET + 4, 999_999_000);
  assert.equal(payloadLatencyNs(view, 0, 1_764_000_001, 12_345), 13_345);
  assert.equal(payloadLatencyNs(view, 0, 1_764_000_000, 999_999_500), 500);
});
