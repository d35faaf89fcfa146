import { test } from "node:test";
import assert from "node:assert/strict";
import { admitDatagram, MergeLeg, MergePair } from "../../src/merge/merge_stage.ts";
import { drops, plan, random, rtp } from "./merge_harness.ts";

/**
 * Drives a resequencing pair as the loop does: before each arrival the due
 * frames are released (judge), a claimed datagram is held; the released
 * frames are recorded with their release time.
 */
function resequence(
  count: number,
  intervalUs: number,
  legs: { delayUs: number; drops?: Set<number>; jitterUs?: (i: number) => number }[],
  delayUs: number,
) {
  const p = plan({ mode: "resequence", delayUs, tableSize: 4096 });
  const bytes = new Uint8Array(1 << 20);
  const pair = new MergePair(p, { offset: 4096, slots: 4096, slotSize: 128 });
  const out: { seq: number; at: number; arrival: number }[] = [];
  let now = 0;
  pair.release = (_leg, off, len, _status, _vid, arrival) => {
    const v = new DataView(bytes.buffer, off + 42, len - 42);
    out.push({ seq: v.getUint16(2), at: now, arrival });
  };
  const events: { at: number; leg: number; i: number }[] = [];
  legs.forEach((l, leg) => {
    for (let i = 0; i < count; i++) {
      if (l.drops?.has(i)) continue;
      events.push({ at: 1e12 + i * intervalUs + l.delayUs + (l.jitterUs?.(i) ?? 0), leg, i });
    }
  });
  events.sort((a, b) => a.at - b.at || a.leg - b.leg);
  const legObjs = [0, 1].map((l) => new MergeLeg(pair, l));
  const frameAt = 0;
  for (const e of events) {
    now = e.at;
    pair.sequence!.judge(now);
    // The frame: 42 bytes of headers (not looked at here) and the RTP datagram.
    const d = rtp(e.i, 0x1234, 40);
    bytes.fill(0, frameAt, frameAt + 42);
    bytes.set(d, frameAt + 42);
    const view = new DataView(bytes.buffer);
    if (admitDatagram(legObjs[e.leg], view, frameAt + 42, d.length, now)) {
      pair.holdFrame(bytes, e.leg, frameAt, 42 + d.length, 0, 0, now);
    }
  }
  const lastArrival = events[events.length - 1].at;
  now = lastArrival + delayUs * 2;
  pair.sequence!.judge(now);
  return { out, pair, lastArrival };
}

test("resequence: legs reordered and lossy come out in sequence order, each held its delay after its first copy", () => {
  const count = 20_000;
  const a = drops(count, 0.02, 31);
  const b = drops(count, 0.02, 32);
  const both = new Set([...a].filter((i) => b.has(i)));
  const r = random(33);
  const jitter = Array.from({ length: count }, () => Math.floor(r() * 3_000));
  const { out, pair, lastArrival } = resequence(count, 200, [
    { delayUs: 0, drops: a, jitterUs: (i) => jitter[i] }, // up to 3 ms of reordering on leg 0
    { delayUs: 10_000, drops: b },
  ], 30_000);
  const seqs = out.map((o) => o.seq);
  for (let k = 1; k < seqs.length; k++) {
    assert.ok(seqs[k] > seqs[k - 1], `in order: ${seqs[k - 1]} then ${seqs[k]}`);
  }
  // The first datagram to arrive starts the sequence: with leg 0 jittered, a few lower numbers
  // arrive after it, too late for an ordered output (counted late).
  const start = seqs[0];
  assert.ok(start < 20, `started at ${start}`);
  const expected = [...Array(count).keys()].filter((i) => i >= start && !both.has(i));
  assert.equal(out.length, expected.length, "every datagram some leg brought after the start");
  assert.equal(pair.f[0], /* forwarded */ expected.length);
  // Sent when its delay is over: at its first arrival + 30 ms, never earlier, or as soon as the
  // number before it went (an earlier number may come later, from the other leg): the harness
  // judges at each arrival (every 200 µs on average, gaps up to about a millisecond).
  let prev = 0;
  for (const o of out) {
    assert.ok(o.at >= o.arrival + 30_000, `seq ${o.seq} sent ${o.at - o.arrival} µs after arrival`);
    const due = Math.max(o.arrival + 30_000, prev);
    if (due > lastArrival) break; // the rest goes at the harness's final judge
    assert.ok(o.at <= due + 1_000, `seq ${o.seq} sent ${o.at - due} µs after it could go`);
    prev = o.at;
  }
});

test("resequence: a gap no leg fills is skipped when its delay is over: the output never stalls", () => {
  const count = 2_000;
  const gap = new Set([500, 501, 502, 1500]);
  const { out } = resequence(count, 1000, [
    { delayUs: 0, drops: gap },
    { delayUs: 2_000, drops: gap },
  ], 20_000);
  assert.equal(out.length, count - gap.size);
  const after = out.find((o) => o.seq === 503)!;
  assert.ok(after.at - after.arrival <= 20_000 + 1_000, "503 waits no longer than its delay");
});
