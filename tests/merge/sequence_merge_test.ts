import { test } from "node:test";
import assert from "node:assert/strict";
import { drops, Harness, plan, random, rtp } from "./merge_harness.ts";
import { RESYNC_STALL_US } from "../../src/merge/sequence_merge.ts";

/** Every index sent once, in the set `expected`. */
function assertSentOnce(sent: number[], count: number, lostOnBoth: Set<number>): void {
  const seen = new Set<number>();
  for (const i of sent) {
    assert.ok(!seen.has(i), `datagram ${i} sent twice`);
    seen.add(i);
  }
  for (let i = 0; i < count; i++) {
    assert.equal(seen.has(i), !lostOnBoth.has(i), `datagram ${i}`);
  }
}

test("independent loss on both legs (1 % and 5 %), PD 0-50 ms, past the 16-bit wrap: what is sent is exactly what either leg brought, each once", () => {
  const count = 200_000;
  const a = drops(count, 0.01, 1);
  const b = drops(count, 0.05, 2);
  const both = new Set([...a].filter((i) => b.has(i)));
  assert.ok(both.size > 50, `the drop lists overlap (${both.size})`);
  const h = new Harness(plan());
  const r = random(3);
  const jitter = Array.from({ length: count }, () => Math.floor(r() * 50_000));
  const last = h.run(count, 100, [
    { delayUs: 0, drops: a },
    { delayUs: 0, drops: b, jitterUs: (i) => jitter[i] },
  ], (i) => rtp(i));
  assertSentOnce(h.sent, count, both);
  assert.equal(h.pairFigure("forwarded"), count - both.size);
  // Judge the rest: a datagram after the window closes every earlier one.
  h.offer(0, rtp(count + 5_000), last + 1_000_000, -1);
  assert.equal(h.pairFigure("lost"), both.size, "unrecoverable = lost on both legs");
  assert.equal(h.pairFigure("lost_multi"), both.size);
  assert.equal(h.legFigure(0, "recovered"), a.size - both.size);
  assert.equal(h.legFigure(1, "recovered"), b.size - both.size);
  assert.equal(h.legFigure(0, "lost"), a.size);
  assert.equal(h.legFigure(1, "lost"), b.size);
  assert.equal(h.pairFigure("duplicates"), count * 2 - a.size - b.size - (count - both.size));
  assert.equal(h.pairFigure("late"), 0);
  assert.equal(h.pairFigure("rejected"), 0);
  assert.ok(h.legFigure(1, "pd_max_us") <= 50_000 && h.legFigure(1, "pd_max_us") > 40_000);
});

test("PD 400 ms with the default window: still exact; PD beyond it: every late copy counted, none sent", () => {
  const count = 20_000;
  const a = drops(count, 0.02, 4);
  const b = drops(count, 0.02, 5);
  const both = new Set([...a].filter((i) => b.has(i)));
  const near = new Harness(plan());
  near.run(count, 100, [{ delayUs: 0, drops: a }, { delayUs: 400_000, drops: b }], (i) => rtp(i));
  assertSentOnce(near.sent, count, both);
  assert.equal(near.pairFigure("late"), 0);

  const far = new Harness(plan());
  far.run(count, 100, [{ delayUs: 0, drops: a }, { delayUs: 600_000, drops: b }], (i) => rtp(i));
  // Leg 1 comes 600 ms late: each of its copies is after the 450 ms window.
  assertSentOnce(far.sent, count, a);
  assert.equal(far.pairFigure("late"), count - b.size);
  assert.equal(far.legFigure(1, "late"), count - b.size);
  assert.equal(far.pairFigure("duplicates"), 0);
});

test("one leg down for a stretch and back: nothing lost, its losses all repaired", () => {
  const count = 50_000;
  const down = new Set(Array.from({ length: 20_000 }, (_, i) => 10_000 + i));
  const h = new Harness(plan());
  const last = h.run(count, 100, [{ delayUs: 0, drops: down }, { delayUs: 3_000 }], (i) => rtp(i));
  h.offer(1, rtp(count + 5_000), last + 1_000_000, -1);
  assertSentOnce(h.sent.filter((i) => i >= 0), count, new Set());
  assert.equal(h.pairFigure("lost"), 0);
  assert.equal(h.legFigure(0, "recovered"), down.size);
  assert.equal(h.legFigure(1, "first"), down.size + 1, "the stretch, and the closing datagram");
});

test("a sender restart (new SSRC, sequence jump) is followed within a few packets; the lagging leg's old copies are not sent again", () => {
  const h = new Harness(plan());
  const interval = 1000;
  let t = 1e12;
  // Old sequence: 0..999 on both legs, leg 1 lags 30 ms.
  for (let i = 0; i < 1000; i++) {
    h.offer(0, rtp(40_000 + i, 0xaaaa), t + i * interval, i);
  }
  const restartAt = t + 1000 * interval;
  // The sender restarts: new SSRC and sequence on leg 0 at once; leg 1 still brings the old one for 30 ms.
  const resumedAt: number[] = [];
  for (let k = 0; k < 100; k++) {
    const now = restartAt + k * interval;
    if (h.offer(0, rtp(7 + k, 0xbbbb), now, 10_000 + k)) resumedAt.push(k);
    if (k < 30) h.offer(1, rtp(40_000 + 970 + k, 0xaaaa), now + 1, 20_000 + k);
  }
  assert.equal(h.pairFigure("resyncs"), 1);
  const firstNew = resumedAt[0];
  assert.ok(
    firstNew * interval <= RESYNC_STALL_US + 2 * interval,
    `resumed after ${firstNew} packets`,
  );
  assert.ok(firstNew < 50);
  // Everything after the resync is sent, once.
  assert.deepEqual(resumedAt, Array.from({ length: 100 - firstNew }, (_, k) => firstNew + k));
  assert.equal(h.sent.filter((i) => i >= 20_000).length, 0, "no old copy of leg 1 sent again");
  t = 0;
  void t;
});

test("hostile: forged sequence numbers, an SSRC storm and a leg replaying old packets never make a duplicate or a stall, and are counted", () => {
  const h = new Harness(plan());
  const r = random(9);
  const count = 30_000;
  for (let i = 0; i < count; i++) {
    const now = 1e12 + i * 100;
    h.offer(0, rtp(i), now, i);
    h.offer(1, rtp(i), now + 2_000, i);
    // Forged: a random sequence number on leg 1, every 3rd datagram (recorded as its number).
    if (i % 3 === 0) {
      const forged = Math.floor(r() * 65536);
      h.offer(1, rtp(forged), now + 10, forged);
    }
    // SSRC storm on leg 0.
    if (i % 5 === 0) h.offer(0, rtp(i, Math.floor(r() * 2 ** 32)), now + 20, -2);
    // Replay of datagrams 1000 back on leg 1.
    if (i > 1000 && i % 7 === 0) h.offer(1, rtp(i - 1000), now + 30, -3);
  }
  assert.equal(
    h.sent.filter((i) => i === -2 || i === -3).length,
    0,
    "no storm or replay packet sent",
  );
  // Each sequence number at most once, and every one of the real stream: no stall. (A forged
  // number just ahead of the real one is indistinguishable from it: it takes that number's place.)
  const numbers = h.sent.map((i) => i & 0xffff);
  assert.equal(new Set(numbers).size, numbers.length, "no sequence number sent twice");
  const sent = new Set(numbers);
  for (let i = 0; i < count; i++) assert.ok(sent.has(i & 0xffff), `sequence number ${i} sent`);
  assert.ok(h.pairFigure("rejected") > count / 5, `rejected ${h.pairFigure("rejected")}`);
  assert.ok(h.pairFigure("late") > 0, "replays within the table are late");
  assert.equal(h.pairFigure("resyncs"), 0, "the real sequence kept moving: never resynchronised");
});

test("the table sized for a lower rate: numbers judged early are counted, still never a duplicate", () => {
  const h = new Harness(plan({ tableSize: 1024 }));
  const count = 20_000;
  h.run(count, 10, [{ delayUs: 0 }, { delayUs: 5_000 }], (i) => rtp(i));
  assert.equal(new Set(h.sent).size, h.sent.length);
  assert.ok(h.pairFigure("window_overflows") > 0);
});

test("a sequence number with a message count (MoldUDP64-like): copies of a datagram are one, a heartbeat passes once", () => {
  const p = plan({ key: "sequence", seqOffset: 10, seqWidth: 8, countOffset: 18, countWidth: 2 });
  const h = new Harness(p);
  const datagram = (seq: number, count: number) => {
    const b = new Uint8Array(40);
    const v = new DataView(b.buffer);
    v.setBigUint64(10, BigInt(seq));
    v.setUint16(18, count);
    return b;
  };
  let seq = 1;
  const t0 = 1e12;
  const sizes: number[] = [];
  for (let i = 0; i < 2000; i++) sizes.push(1 + (i % 5));
  const starts: number[] = [];
  for (const n of sizes) {
    starts.push(seq);
    seq += n;
  }
  const lostA = new Set([5, 6, 100]);
  const lostB = new Set([6, 200]);
  starts.forEach((s, i) => {
    if (!lostA.has(i)) h.offer(0, datagram(s, sizes[i]), t0 + i * 100, i);
    if (!lostB.has(i)) h.offer(1, datagram(s, sizes[i]), t0 + i * 100 + 50, i);
  });
  assert.deepEqual(
    [...new Set(h.sent)].length,
    h.sent.length,
  );
  assert.equal(h.sent.length, sizes.length - 1, "datagram 6 was lost on both legs");
  // Heartbeats: count 0, the next sequence number; each leg sends one: one passes.
  assert.equal(h.offer(0, datagram(seq, 0), t0 + 1e6, -1), true);
  assert.equal(h.offer(1, datagram(seq, 0), t0 + 1e6 + 50, -1), false);
  h.offer(0, datagram(seq, 1), t0 + 3e6, -2);
  assert.equal(h.pairFigure("lost"), sizes[6], "the messages of datagram 6, lost on both");
});

test("a loss burst on every leg (500 datagrams, 50 ms) is a gap, not a forgery: the first datagram after it is sent", () => {
  const count = 5_000;
  const burst = new Set(Array.from({ length: 500 }, (_, i) => 2_000 + i));
  const h = new Harness(plan());
  const last = h.run(
    count,
    100,
    [{ delayUs: 0, drops: burst }, { delayUs: 7_000, drops: burst }],
    (i) => rtp(i),
  );
  assertSentOnce(h.sent, count, burst);
  h.offer(0, rtp(count + 100), last + 1_000_000, -1);
  assert.equal(h.pairFigure("lost"), burst.size);
  assert.equal(h.pairFigure("rejected"), 0);
});

test("a sender that starts its sequence again from the beginning (same SSRC, or a payload key) is followed once the old one stood still", () => {
  const h = new Harness(plan());
  const t0 = 1e12;
  for (let i = 0; i < 5_000; i++) {
    h.offer(0, rtp(i), t0 + i * 100, i);
    h.offer(1, rtp(i), t0 + i * 100 + 1_000, i);
  }
  // 2 s of silence, then the same numbers again (a restarted sender, a second run).
  const t1 = t0 + 5_000 * 100 + 2_000_000;
  let sent = 0;
  for (let i = 0; i < 5_000; i++) {
    if (h.offer(0, rtp(i), t1 + i * 100, 10_000 + i)) sent++;
    h.offer(1, rtp(i), t1 + i * 100 + 1_000, 10_000 + i);
  }
  assert.equal(h.pairFigure("resyncs"), 1);
  assert.ok(sent >= 4_998, `the second run is sent (${sent} of 5000)`);
  assert.equal(new Set(h.sent).size, h.sent.length, "nothing twice");
});
