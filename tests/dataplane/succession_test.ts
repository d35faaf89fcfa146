/**
 * Ring succession (src/dataplane/succession.ts), specified on fake rings:
 * a predecessor and its successor both hold every packet, stamped alike;
 * the cut decides which of the two forwards it.
 */
import assert from "node:assert/strict";
import { processBlock, processFrames } from "../../src/dataplane/forward_loop.ts";
import {
  admit,
  CUT_AFTER,
  CUT_BEFORE,
  CUT_HELD,
  cutAt,
  finished,
  SETTLE_US,
} from "../../src/dataplane/succession.ts";
import { type FakeWorker, fakeWorker, planFor, workerCounters } from "../helpers/fake_ring.ts";
import { udpFrame } from "../helpers/frames.ts";

const PLAN = planFor({
  rules: [{
    name: "cam1",
    input: { interface: "in0", group: "239.1.1.1", port: 5001 },
    outputs: [{ interface: "out1", group: "239.9.9.9", port: 5099 }],
  }],
});
const T = 1_800_000_000_000_000; // µs, CLOCK_REALTIME
const FRAMES = {
  frameSize: 2048,
  blockSize: 65536,
  blockCount: 1,
  kicker: { send: true, record: true },
};

/** Packets 0..9 (IP id = index), stamped 1 ms apart, five before T and five from T on. */
const STAMPS = Array.from({ length: 10 }, (_, i) => T + (i - 5) * 1000);

function fillBoth(...workers: FakeWorker[]): void {
  for (const w of workers) {
    STAMPS.forEach((us, i) => w.arena.rx[0].fillFrames(i, [udpFrame({ id: i })], us));
  }
}

/** IP ids of the frames a worker's emulated kernel sent. */
function sentIds(w: FakeWorker): number[] {
  return w.kicker.sent.map((f) => (f[18] << 8) | f[19]);
}

Deno.test("admit(): a predecessor takes what was stamped before the cut, a successor the cut and after", () => {
  const { inputs: [port] } = fakeWorker(PLAN);
  cutAt(port, CUT_BEFORE, T);
  assert.equal(admit(port, T - 1), true);
  assert.equal(admit(port, T), false);
  cutAt(port, CUT_AFTER, T);
  assert.equal(admit(port, T - 1), false);
  assert.equal(admit(port, T), true);
  assert.equal(admit(port, T + 10 * SETTLE_US), true);
  assert.equal(
    admit(port, T - 1),
    false,
    "a successor never takes an earlier stamp, however late it turns up",
  );
});

Deno.test("finished(): a predecessor retires only after the settle time, with nothing left ready", () => {
  const { inputs: [port] } = fakeWorker(PLAN);
  assert.equal(finished(port, T + SETTLE_US, false), false, "not cut: never finished");
  cutAt(port, CUT_BEFORE, T);
  assert.equal(finished(port, T + SETTLE_US - 1, false), false, "before the settle time");
  assert.equal(finished(port, T + SETTLE_US, true), false, "with a packet still ready");
  assert.equal(finished(port, T + SETTLE_US, false), true);
});

Deno.test("a succession forwards each packet exactly once and in order: the successor is held, then takes the rest", () => {
  const predecessor = fakeWorker(PLAN, FRAMES);
  const successor = fakeWorker(PLAN, FRAMES);
  fillBoth(predecessor, successor);

  successor.inputs[0].cut = CUT_HELD;
  assert.equal(
    processFrames(successor.state, successor.inputs[0]),
    0,
    "a held successor is not read",
  );
  assert.equal(
    successor.arena.rx[0].frameStatus(0) & 1,
    1,
    "its frames stay where the kernel put them",
  );

  cutAt(predecessor.inputs[0], CUT_BEFORE, T);
  assert.equal(processFrames(predecessor.state, predecessor.inputs[0]), 1);
  assert.deepEqual(sentIds(predecessor), [0, 1, 2, 3, 4]);
  assert.equal(
    workerCounters(predecessor.state).rx_packets,
    5,
    "skipped packets are the successor's, not counted here",
  );
  for (let i = 0; i < 10; i++) {
    assert.equal(predecessor.arena.rx[0].frameStatus(i), 0, `frame ${i} given back`);
  }

  cutAt(successor.inputs[0], CUT_AFTER, T);
  assert.equal(processFrames(successor.state, successor.inputs[0]), 1);
  assert.deepEqual(sentIds(successor), [5, 6, 7, 8, 9]);
  assert.equal(workerCounters(successor.state).rx_packets, 5);
});

Deno.test("a predecessor whose skipped frames are all it had still reports progress (the loop does not sleep on them)", () => {
  const w = fakeWorker(PLAN, FRAMES);
  w.arena.rx[0].fillFrames(0, [udpFrame({ id: 1 })], T + 5);
  cutAt(w.inputs[0], CUT_BEFORE, T);
  assert.equal(processFrames(w.state, w.inputs[0]), 1);
  assert.equal(w.inputs[0].cursor, 1, "the frame was taken and given back");
  assert.equal(processFrames(w.state, w.inputs[0]), 0);
});

Deno.test("blocks mode cuts on the packet stamps of a TPACKET_V3 block too", () => {
  const w = fakeWorker(PLAN, { blockCount: 2, kicker: { send: true, record: true } });
  w.arena.rx[0].fillBlock(0, STAMPS.map((_, i) => udpFrame({ id: i })));
  // fillBlock leaves tp_sec/tp_nsec zero: stamp each packet as the kernel would.
  const view = w.arena.view;
  const block = w.arena.rx[0].offset;
  let pkt = block + view.getUint32(block + 16, true);
  for (const us of STAMPS) {
    view.setUint32(pkt + 4, Math.floor(us / 1e6), true);
    view.setUint32(pkt + 8, (us % 1e6) * 1000, true);
    pkt += view.getUint32(pkt, true);
  }
  cutAt(w.inputs[0], CUT_AFTER, T);
  assert.equal(processBlock(w.state, w.inputs[0]), 1);
  assert.deepEqual(sentIds(w), [5, 6, 7, 8, 9]);
});
