/**
 * RTP on the data path (src/streams/rtp.ts): loss, duplicates, reordering,
 * restarts and SSRC changes counted exactly, loss never negative, the
 * interarrival jitter of RFC 3550 6.4.1, and hostile headers counted, never
 * read past the datagram.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { inspectDatagram } from "../../src/streams/inspector.ts";
import { S } from "../../src/streams/stream_slots.ts";
import { newInspector, rtp } from "../helpers/ts_packets.ts";

/** Feeds RTP packets with the given sequence numbers, one per `gapUs`, timestamps in step (90 kHz). */
function feed(seqs: number[], o: { gapUs?: number; ssrc?: number; delays?: number[] } = {}) {
  const ins = newInspector("rtp");
  const gap = o.gapUs ?? 1000;
  seqs.forEach((seq, i) => {
    const d = rtp({ seq, ts: (seq * gap * 90) / 1000, ssrc: o.ssrc });
    // A DataView exactly the datagram's size: any read outside it throws.
    inspectDatagram(
      ins,
      new DataView(d.buffer),
      0,
      d.length,
      1e12 + i * gap + (o.delays?.[i] ?? 0),
    );
  });
  const b = ins.block;
  return {
    ins,
    packets: b[S.rtp_packets],
    lost: b[S.rtp_lost],
    pending: b[S.rtp_pending_gaps],
    duplicates: b[S.rtp_duplicates],
    reordered: b[S.rtp_reordered],
    restarts: b[S.rtp_restarts],
    ssrcChanges: b[S.rtp_ssrc_changes],
    invalid: b[S.rtp_invalid],
    jitter: b[S.rtp_jitter],
  };
}

const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => (from + i) & 0xffff);

Deno.test("inspectRtp() counts an in-order stream across the 16-bit wrap: no loss, no error", () => {
  const r = feed(range(65000, 2000));
  assert.deepEqual(
    [r.packets, r.lost, r.pending, r.duplicates, r.reordered, r.restarts, r.invalid],
    [2000, 0, 0, 0, 0, 0, 0],
  );
});

Deno.test("inspectRtp() counts each missing number as lost once it is 100 behind; the last ones are pending until then", () => {
  const seqs = range(100, 1000).filter((s) => ![150, 151, 600, 1050].includes(s));
  const r = feed(seqs);
  assert.equal(r.lost, 3, "150, 151 and 600 fell out of the misorder window");
  assert.equal(r.pending, 1, "1050 may still come");
  assert.equal(r.packets, 996);
});

Deno.test("inspectRtp() counts duplicates on their own: loss never goes negative", () => {
  const seqs = range(0, 500);
  seqs.splice(200, 0, 199, 199); // 199 three times
  const r = feed(seqs);
  assert.equal(r.duplicates, 2);
  assert.equal(r.lost, 0);
  assert.equal(r.reordered, 0);
});

Deno.test("inspectRtp() takes a late packet within the window as reordered, filling its gap", () => {
  const seqs = range(0, 500);
  [seqs[300], seqs[301]] = [seqs[301], seqs[300]];
  seqs.splice(400, 1);
  seqs.push(400); // 400 arrives 99 later: still within the window
  const r = feed(seqs);
  assert.deepEqual([r.reordered, r.lost, r.pending, r.duplicates], [2, 0, 0, 0]);
});

Deno.test("inspectRtp() follows a sender restart (a jump confirmed by the next packet) without counting the jump as loss", () => {
  const seqs = [...range(1000, 300), ...range(40000, 300)];
  const r = feed(seqs);
  assert.equal(r.restarts, 1);
  assert.equal(r.lost, 0);
  assert.equal(r.packets, 600);
});

Deno.test("inspectRtp() counts an SSRC change and starts a new run", () => {
  const ins = newInspector("rtp");
  for (let i = 0; i < 200; i++) {
    const d = rtp({ seq: i < 100 ? i : 5000 + i, ts: i * 90, ssrc: i < 100 ? 1 : 2 });
    inspectDatagram(ins, new DataView(d.buffer), 0, d.length, 1e12 + i * 1000);
  }
  assert.equal(ins.block[S.rtp_ssrc_changes], 1);
  assert.equal(ins.block[S.rtp_lost], 0);
  assert.equal(ins.block[S.rtp_ssrc], 2);
});

Deno.test("inspectRtp() jitter: 0 for a perfectly paced stream; RFC 3550's running estimate for delays that alternate", () => {
  assert.equal(feed(range(0, 300)).jitter, 0);
  const delays = Array.from({ length: 400 }, (_, i) => (i % 2 === 0 ? 0 : 1000)); // 1 ms = 90 units
  const r = feed(range(0, 400), { delays });
  // Independent: the same recurrence, J += (|D| - J) / 16, |D| = 90 from the second packet on.
  let j = 0;
  for (let i = 1; i < 400; i++) j += (90 - j) / 16;
  assert.ok(Math.abs(r.jitter - j) < 1e-6, `${r.jitter} vs ${j}`);
});

Deno.test("inspectRtp() counts malformed headers as invalid: version, padding past the end, CSRCs or extension past the end", () => {
  const ins = newInspector("rtp");
  const bad = [
    rtp({ seq: 1, ts: 0, version: 1 }),
    rtp({ seq: 2, ts: 0, padding: 0, payload: new Uint8Array(0) }).slice(0, 11), // shorter than a header
    (() => {
      const d = rtp({ seq: 3, ts: 0, padding: 4 });
      d[d.length - 1] = 250; // padding longer than the packet
      return d;
    })(),
    rtp({ seq: 4, ts: 0, csrc: 15, payload: new Uint8Array(0) }).slice(0, 40), // CSRC list cut
    (() => {
      const d = rtp({ seq: 5, ts: 0, extensionWords: 1 });
      new DataView(d.buffer).setUint16(14, 5000); // extension length past the end
      return d;
    })(),
  ];
  for (const d of bad) inspectDatagram(ins, new DataView(d.buffer), 0, d.length, 1e12);
  assert.equal(ins.block[S.rtp_invalid], 5);
  assert.equal(ins.block[S.rtp_packets], 0);
});

Deno.test("inspectDatagram() in every mode takes hostile payloads without throwing or reading past them", () => {
  for (const mode of ["udp", "rtp", "rtp+ts", "ts"] as const) {
    const ins = newInspector(mode);
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 1500 }), (bytes) => {
        // An exactly sized view: an out-of-range read throws RangeError and fails the property.
        const copy = bytes.slice();
        inspectDatagram(
          ins,
          new DataView(copy.buffer),
          0,
          copy.length,
          1e12 + ins.block[S.packets] * 100,
        );
      }),
      { numRuns: 3000 },
    );
    assert.ok(ins.block[S.packets] > 0);
  }
});
