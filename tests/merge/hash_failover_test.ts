import { test } from "node:test";
import assert from "node:assert/strict";
import { drops, Harness, plan } from "./merge_harness.ts";
import { blockViews, CONTROL_LOCK, SWITCH_BASE } from "../../src/merge/merge_slots.ts";

/** A 1316-byte datagram of seven TS packets: a counter in the first, or all null packets. */
function ts(i: number, nullStuffing: boolean): Uint8Array {
  const b = new Uint8Array(1316);
  for (let p = 0; p < 7; p++) {
    b[p * 188] = 0x47;
    b[p * 188 + 1] = 0x1f;
    b[p * 188 + 2] = 0xff;
  }
  if (!nullStuffing) {
    b[1] = 0x01;
    b[2] = 0x00;
    new DataView(b.buffer).setUint32(4, i);
  }
  return b;
}

test("hash merge: byte-identical legs; identical datagrams on one leg (null stuffing) all pass, each once", () => {
  const count = 20_000;
  // Every 4th datagram is all null packets: identical to every other one of them.
  const make = (i: number) => ts(i, i % 4 === 0);
  const a = drops(count, 0.01, 11);
  const b = drops(count, 0.03, 12);
  const both = new Set([...a].filter((i) => b.has(i)));
  const h = new Harness(plan({ key: "hash", tableSize: 65536 }));
  h.run(count, 100, [{ delayUs: 0, drops: a }, { delayUs: 20_000, drops: b }], make);
  // Null datagrams pair by occurrence, not by index: count what was sent.
  const nullsSent = h.sent.filter((i) => i % 4 === 0).length;
  const others = h.sent.filter((i) => i % 4 !== 0);
  assert.equal(new Set(others).size, others.length, "no datagram with content sent twice");
  const expectOthers = [...Array(count).keys()].filter((i) => i % 4 !== 0 && !both.has(i));
  assert.equal(others.length, expectOthers.length);
  // Within the window, the null datagrams each leg brought pair up: sent = the most any leg brought per window.
  const nullTotal = count / 4;
  assert.ok(
    nullsSent >= nullTotal - [...both].filter((i) => i % 4 === 0).length - 5,
    `nulls ${nullsSent}`,
  );
  assert.ok(nullsSent <= nullTotal, `nulls ${nullsSent} of ${nullTotal}`);
  assert.equal(h.pairFigure("lost"), 0, "no sequence: nothing can be judged lost on every leg");
});

test("hash merge: a copy after the window is late; the same payload much later is new (a heartbeat)", () => {
  const h = new Harness(plan({ key: "hash", windowUs: 100_000 }));
  const x = ts(1, false);
  assert.equal(h.offer(0, x, 1e12, 1), true);
  assert.equal(h.offer(1, x, 1e12 + 50_000, 1), false);
  assert.equal(h.offer(1, ts(2, false), 1e12 + 60_000, 2), true);
  assert.equal(
    h.offer(1, ts(2, false), 1e12 + 200_000, 2),
    true,
    "a second occurrence on one leg: new",
  );
  assert.equal(h.offer(0, ts(2, false), 1e12 + 210_000, 2), false, "its pair on the other");
  assert.equal(h.pairFigure("duplicates"), 2);
});

test("failover: silence of the active leg switches after hold-off; the primary is taken back after it is clean for clear_ms", () => {
  const p = plan({ mode: "failover", holdOffUs: 200_000, clearUs: 1_000_000 });
  const h = new Harness(p);
  const { rtp } = {
    rtp: (seq: number, ssrc: number) => {
      const b = new Uint8Array(40);
      const v = new DataView(b.buffer);
      v.setUint8(0, 0x80);
      v.setUint16(2, seq & 0xffff);
      v.setUint32(8, ssrc);
      return b;
    },
  };
  const t0 = 1e12;
  const sentFrom: number[] = [];
  // Two encoders: leg 0 (primary) and leg 1, 1000 pps each; leg 0 silent from 2 s to 4 s.
  for (let i = 0; i < 8000; i++) {
    const now = t0 + i * 1000;
    if (i < 2000 || i >= 4000) { if (h.offer(0, rtp(i, 1), now, i)) sentFrom.push(0); }
    if (h.offer(1, rtp(50_000 + i, 2), now + 300, i)) sentFrom.push(1);
  }
  // One stream at a time: exactly one datagram per tick.
  // Nothing is sent from the silence (after datagram 1999) until hold-off has passed (at 2199.3 ms).
  assert.equal(sentFrom.length, 8000 - 199);
  const v = blockViews(p.block, p.tableSize).figures;
  const log = [0, 1, 2].map((k) => ({
    at: (v[SWITCH_BASE + k * 4] - t0) / 1000,
    from: v[SWITCH_BASE + k * 4 + 1],
    to: v[SWITCH_BASE + k * 4 + 2],
    reason: v[SWITCH_BASE + k * 4 + 3],
  }));
  assert.deepEqual(log.map((e) => [e.from, e.to, e.reason]), [[-1, 0, 0], [0, 1, 1], [1, 0, 3]]);
  assert.ok(Math.abs(log[1].at - 2200) <= 2, `switched away at ${log[1].at} ms`);
  assert.ok(Math.abs(log[2].at - 5000) <= 2, `back to the primary at ${log[2].at} ms`);
  assert.equal(h.pairFigure("switches"), 3);
  assert.equal(h.pairFigure("active_leg"), 0);
});

test("failover: loss on the active leg switches to a clean one; a manual lock holds whatever happens", () => {
  const p = plan({ mode: "failover", holdOffUs: 100_000, clearUs: 500_000 });
  const h = new Harness(p);
  const pkt = (seq: number) => {
    const b = new Uint8Array(40);
    const v = new DataView(b.buffer);
    v.setUint8(0, 0x80);
    v.setUint16(2, seq);
    return b;
  };
  const t0 = 1e12;
  // Leg 0 loses datagram 150 (the switch waits for hold-off since the first choice: 100 ms).
  for (let i = 0; i < 200; i++) {
    if (i !== 150) h.offer(0, pkt(i), t0 + i * 1000, i);
    h.offer(1, pkt(i), t0 + i * 1000 + 10, i);
  }
  assert.equal(h.pairFigure("active_leg"), 1, "switched on the loss");
  assert.equal(h.legFigure(0, "lost"), 1);
  const control = blockViews(p.block, p.tableSize).control;
  Atomics.store(control, CONTROL_LOCK, 0);
  for (let i = 200; i < 3000; i++) {
    if (i % 10 !== 0) h.offer(0, pkt(i), t0 + i * 1000, i); // lossy, but locked
    h.offer(1, pkt(i), t0 + i * 1000 + 10, i);
  }
  assert.equal(h.pairFigure("active_leg"), 0, "the lock holds");
  Atomics.store(control, CONTROL_LOCK, -1);
  for (let i = 3000; i < 3300; i++) {
    if (i % 10 !== 0) h.offer(0, pkt(i), t0 + i * 1000, i);
    h.offer(1, pkt(i), t0 + i * 1000 + 10, i);
  }
  assert.equal(h.pairFigure("active_leg"), 1, "lock lifted: away from the lossy leg");
});
