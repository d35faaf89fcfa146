/**
 * MPEG-TS health on the data path (src/streams/ts.ts): each ETSI TR 101 290
 * indicator counted exactly for a fault made on purpose, nothing counted for
 * what ISO/IEC 13818-1 allows (one duplicate packet, discontinuity_indicator,
 * null packets, 204-byte packets, packets without payload), and hostile
 * packets never read past the datagram.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { inspectDatagram } from "../../src/streams/inspector.ts";
import { mpegCrc32 } from "../../src/streams/crc32.ts";
import { P, PID_SLOTS, PID_TABLE_BASE, S } from "../../src/streams/stream_slots.ts";
import {
  cat,
  concat,
  crc32Bitwise,
  newInspector,
  pat,
  pesWithPts,
  pmt,
  rtp,
  tsPacket,
  type TsPacketOptions,
} from "../helpers/ts_packets.ts";

const PMT_PID = 0x100;
const VIDEO = 0x101;
const AUDIO = 0x102;

/**
 * A clean single-program stream, one datagram of 7 packets per 10 ms: PAT
 * and PMT every 100 ms, PCR every 20 ms, PTS every 40 ms on the video PID.
 * `tweak(k, packets)` may change datagram k's packets before it is sent.
 */
function stream(
  datagrams: number,
  tweak: (k: number, packets: TsPacketOptions[]) => void = () => {},
  o: { size?: 188 | 204; rtp?: boolean } = {},
) {
  const ins = newInspector(o.rtp ? "rtp+ts" : "ts");
  const cc = new Map<number, number>();
  const next = (pid: number) => {
    const v = cc.get(pid) ?? 0;
    cc.set(pid, (v + 1) & 15);
    return v;
  };
  for (let k = 0; k < datagrams; k++) {
    const t = k * 10_000; // µs
    const packets: TsPacketOptions[] = [];
    if (k % 10 === 0) packets.push({ pid: 0, cc: next(0), pusi: true, payload: pat(PMT_PID) });
    if (k % 10 === 0) {
      packets.push({
        pid: PMT_PID,
        cc: next(PMT_PID),
        pusi: true,
        payload: pmt(VIDEO, [VIDEO, AUDIO]),
      });
    }
    if (k % 2 === 0) packets.push({ pid: VIDEO, cc: next(VIDEO), pcr: 27_000_000 + t * 27 });
    if (k % 4 === 0) {
      packets.push({
        pid: VIDEO,
        cc: next(VIDEO),
        pusi: true,
        payload: pesWithPts(9000 + t * 0.09),
      });
    }
    packets.push({ pid: AUDIO, cc: next(AUDIO) });
    while (packets.length < 7) packets.push({ pid: 0x1fff, cc: 0 });
    tweak(k, packets);
    const bytes = packets.map((p) => {
      const b = tsPacket(p);
      return o.size === 204 ? concat([b, new Uint8Array(16)]) : b;
    });
    let payload = concat(bytes);
    if (o.rtp) payload = rtp({ seq: k, ts: t * 0.09, pt: 33, payload });
    inspectDatagram(ins, new DataView(payload.buffer), 0, payload.length, 1e12 + t);
  }
  return ins;
}

const P1 = [
  "ts_sync_loss",
  "ts_sync_byte_error",
  "ts_pat_error",
  "ts_cc_error",
  "ts_pmt_error",
  "ts_pid_error",
] as const;
const P2 = [
  "ts_transport_error",
  "ts_crc_error",
  "ts_pcr_repetition_error",
  "ts_pcr_discontinuity_error",
  "ts_pts_error",
  "ts_cat_error",
] as const;
type Indicator = typeof P1[number] | typeof P2[number] | "ts_invalid";

/** Every indicator's count, so a test can assert all of them at once. */
function counts(ins: { block: Float64Array }): Record<Indicator, number> {
  const out = {} as Record<Indicator, number>;
  for (const k of [...P1, ...P2, "ts_invalid"] as const) out[k] = ins.block[S[k]];
  return out;
}

function only(expected: Partial<Record<Indicator, number>>): Record<Indicator, number> {
  const out = {} as Record<Indicator, number>;
  for (const k of [...P1, ...P2, "ts_invalid"] as const) out[k] = expected[k] ?? 0;
  return out;
}

Deno.test("mpegCrc32() agrees with a bit-by-bit CRC-32/MPEG-2, and leaves 0 over a section with its CRC", () => {
  const bytes = crypto.getRandomValues(new Uint8Array(300));
  assert.equal(mpegCrc32(new DataView(bytes.buffer), 0, bytes.length), crc32Bitwise(bytes));
  const s = pat(0x100).subarray(1); // without the pointer_field
  assert.equal(mpegCrc32(new DataView(s.slice().buffer), 0, s.length), 0);
});

Deno.test("inspectTs(): a clean stream, in UDP and in RTP, 188 and 204 bytes: no indicator counts", () => {
  for (const o of [{}, { rtp: true }, { size: 204 as const }]) {
    const ins = stream(1000, undefined, o);
    assert.deepEqual(counts(ins), only({}), JSON.stringify(o));
    assert.equal(ins.block[S.ts_packets], 7000);
    assert.equal(ins.block[S.ts_packet_size], o.size ?? 188);
    assert.equal(ins.block[S.ts_sync_state], 1);
  }
});

Deno.test("1.4: a skipped continuity counter and a packet seen three times are errors; one legal duplicate, a discontinuity_indicator, null packets and packets without payload are not", () => {
  const ins = stream(400, (k, p) => {
    const audio = p.findIndex((x) => x.pid === AUDIO);
    if (k === 50) p[audio].cc = (p[audio].cc + 1) & 15; // skip
    if (k === 100) p.splice(audio + 1, 1, { ...p[audio] }); // legal duplicate
    if (k === 150) p.splice(audio + 1, 2, { ...p[audio] }, { ...p[audio] }); // three times
    if (k === 200) p[audio] = { ...p[audio], cc: 3, discontinuity: true }; // legal jump
    if (k === 250) p.splice(6, 1, { pid: AUDIO, cc: 7, noPayload: true }); // no payload: CC not checked
  });
  // The skip at 50 is one error (the packet after it repeats its counter: a legal duplicate);
  // the triple at 150 one; after the discontinuity at 200 (counter 3) the next audio packet
  // carries the stream's own counter again, not 4: one.
  const c = counts(ins);
  assert.equal(c.ts_cc_error, 3);
  const row = [...Array(ins.block[S.ts_pids]).keys()].map((r) => PID_TABLE_BASE + r * PID_SLOTS)
    .find((at) => ins.block[at + P.pid] === AUDIO)!;
  assert.equal(ins.block[row + P.cc_errors], 3);
  assert.deepEqual({ ...c, ts_cc_error: 0 }, only({}));
});

Deno.test("1.1 and 1.2: a bad sync byte while synchronised is a sync byte error; two in a row lose sync, which five good packets regain", () => {
  const ins = stream(200, (k, p) => {
    if (k === 50) p[6].sync = 0x46;
    if (k === 100) {
      p[5].sync = 0x00;
      p[6].sync = 0x00;
    }
  });
  assert.deepEqual(counts(ins), only({ ts_sync_byte_error: 3, ts_sync_loss: 1 }));
  assert.equal(ins.block[S.ts_sync_state], 1, "synchronised again");
});

Deno.test("2.1: every packet with transport_error_indicator counts; it was received, so its continuity counter still counts", () => {
  const ins = stream(100, (k, p) => {
    if (k === 10 || k === 11) p[p.length - 1].tei = true;
  });
  assert.deepEqual(counts(ins), only({ ts_transport_error: 2 }));
});

Deno.test("1.3 and 1.5: no PAT (then no PMT) for more than 500 ms is one error per gap", () => {
  const ins = stream(600, (k, p) => {
    if (k >= 100 && k < 170) { // 700 ms without PAT
      const i = p.findIndex((x) => x.pid === 0);
      if (i >= 0) p[i] = { pid: 0x1fff, cc: 0 };
    }
    if (k >= 300 && k < 400) { // 1 s without PMT
      const i = p.findIndex((x) => x.pid === PMT_PID);
      if (i >= 0) p[i] = { pid: 0x1fff, cc: 0 };
    }
  });
  const c = counts(ins);
  assert.equal(c.ts_pat_error, 1);
  assert.equal(c.ts_pmt_error, 1);
  // The sender here counts on while withholding, so each PID's counter jumps when it resumes.
  assert.equal(c.ts_cc_error, 2);
});

Deno.test("1.3.a and 1.5.a: a section on PID 0 that is not a PAT, and a scrambled PMT, are errors", () => {
  const ins = stream(100, (k, p) => {
    if (k === 20) p[0] = { ...p[0], payload: pat(PMT_PID, { tableId: 2 }) };
    if (k === 30) p[1] = { ...p[1], scrambling: 2 };
  });
  const c = counts(ins);
  assert.equal(c.ts_pat_error, 1);
  assert.equal(c.ts_pmt_error, 1);
  assert.equal(c.ts_cat_error, 1, "scrambling without a CAT (2.6) is reported too");
});

Deno.test("1.6: a PID the PMT refers to absent for pid_period_ms is one error per absence", () => {
  const ins = stream(1500, (_k, p) => {
    if (_k >= 300 && _k < 1000) {
      for (let i = 0; i < p.length; i++) if (p[i].pid === AUDIO) p[i] = { pid: 0x1fff, cc: 0 };
    }
  });
  // 7 s without audio; it comes back with a counter that jumped (one 1.4 error).
  assert.deepEqual(counts(ins), only({ ts_pid_error: 1, ts_cc_error: 1 }));
});

Deno.test("2.2: a PAT or PMT with a wrong CRC is an error (and its content is not taken)", () => {
  const ins = stream(100, (k, p) => {
    if (k === 30) p[0] = { ...p[0], payload: pat(PMT_PID, { badCrc: true }) };
    if (k === 40) p[1] = { ...p[1], payload: pmt(VIDEO, [VIDEO, AUDIO], { badCrc: true }) };
  });
  assert.deepEqual(counts(ins), only({ ts_crc_error: 2 }));
});

Deno.test("2.3a and 2.3b: a PCR gap over the limit, and a PCR jump without discontinuity_indicator, are errors; with it, not", () => {
  const ins = stream(300, (k, p) => {
    const v = p.findIndex((x) => x.pcr !== undefined);
    if (k > 100 && k < 115 && v >= 0) p[v] = { ...p[v], pcr: undefined }; // a 160 ms gap
    if (k === 200 && v >= 0) p[v] = { ...p[v], pcr: p[v].pcr! + 27_000 * 500 }; // +500 ms
    if (k === 250 && v >= 0) p[v] = { ...p[v], pcr: 0, discontinuity: true }; // legal
  });
  // The 160 ms gap is both (two PCR values 160 ms apart); the jump at 200 and the return to
  // the timeline at 202 are two more; after the legal one at 250, the PCR returns to the
  // timeline at 252 without an indicator: one more.
  assert.deepEqual(
    counts(ins),
    only({ ts_pcr_repetition_error: 1, ts_pcr_discontinuity_error: 4 }),
  );
  assert.ok(ins.block[S.ts_pcr_interval_max_us] >= 160_000);
});

Deno.test("2.3a with pcr_repetition_ms 40: 50 ms between PCRs is an error", () => {
  const ins = newInspector("ts", { pcrRepetitionMs: 40 });
  for (let k = 0; k < 20; k++) {
    const d = concat([tsPacket({ pid: VIDEO, cc: k & 15, pcr: k * 27_000 * 50 })]);
    inspectDatagram(ins, new DataView(d.buffer), 0, d.length, 1e12 + k * 50_000);
  }
  assert.equal(ins.block[S.ts_pcr_repetition_error], 19);
});

Deno.test("2.5: more than 700 ms between two PTS of a PID is an error", () => {
  const ins = stream(300, (k, p) => {
    if (k > 100 && k < 180) {
      const i = p.findIndex((x) => x.pusi && x.pid === VIDEO);
      if (i >= 0) p[i] = { ...p[i], pusi: false, payload: undefined };
    }
  });
  assert.deepEqual(counts(ins), only({ ts_pts_error: 1 }));
});

Deno.test("2.6: scrambled packets without a CAT count at most once a second; with a CAT, not at all; a section on PID 1 that is not a CAT counts", () => {
  const scrambled = (withCat: boolean) =>
    stream(300, (k, p) => {
      const a = p.findIndex((x) => x.pid === AUDIO);
      p[a] = { ...p[a], scrambling: 2 };
      if (withCat && k % 50 === 0) p[6] = { pid: 1, cc: (k / 50) & 15, pusi: true, payload: cat() };
    });
  assert.equal(counts(scrambled(false)).ts_cat_error, 3, "3 s of scrambled audio");
  assert.equal(counts(scrambled(true)).ts_cat_error, 1, "only before the first CAT");
  const wrong = stream(50, (k, p) => {
    if (k === 10) p[6] = { pid: 1, cc: 0, pusi: true, payload: pat(PMT_PID) };
  });
  assert.equal(counts(wrong).ts_cat_error, 1);
});

Deno.test("inspectTs() counts a payload that is not whole TS packets, and an adaptation field that overruns its packet, as invalid", () => {
  const ins = newInspector("ts");
  const cut = new Uint8Array(188 * 2 - 10).fill(0x47);
  inspectDatagram(ins, new DataView(cut.buffer), 0, cut.length, 1e12);
  const p = tsPacket({ pid: VIDEO, cc: 0, pcr: 0 });
  p[4] = 200; // adaptation_field_length past the packet
  inspectDatagram(ins, new DataView(p.buffer), 0, p.length, 1e12 + 10);
  assert.equal(ins.block[S.ts_invalid], 2);
});

Deno.test("inspectTs() takes structured hostile TS packets (lying lengths, pointer fields, sections, PES headers) without throwing or reading past them", () => {
  const ins = newInspector("ts");
  const packet = fc.tuple(
    fc.constantFrom(0, 1, PMT_PID, VIDEO, AUDIO, 0x1fff, 0x55),
    fc.uint8Array({ minLength: 184, maxLength: 184 }),
    fc.integer({ min: 0, max: 255 }),
  ).map(([pid, body, flags]) => {
    const p = new Uint8Array(188);
    p[0] = 0x47;
    p[1] = (flags & 0xc0) | (pid >> 8);
    p[2] = pid & 0xff;
    p[3] = flags;
    p.set(body, 4);
    return p;
  });
  fc.assert(
    fc.property(fc.array(packet, { minLength: 1, maxLength: 7 }), (packets) => {
      const d = concat(packets);
      inspectDatagram(ins, new DataView(d.buffer), 0, d.length, 1e12 + ins.block[S.packets] * 1000);
    }),
    { numRuns: 5000 },
  );
  assert.ok(ins.block[S.ts_packets] > 5000);
});
