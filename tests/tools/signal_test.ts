import assert from "node:assert/strict";
import { UdpReceiver, UdpSender } from "../../ffi/udp.ts";
import { ip } from "../../src/net/address.ts";
import { generate } from "../../src/tools/gen.ts";
import {
  crc32Mpeg2,
  type Fault,
  IndexSet,
  parseFault,
  SIGNAL,
  type SignalOptions,
  TestSignal,
  tsDatagramRate,
} from "../../src/tools/signal.ts";

// ---- an independent reader of what the signal puts in its datagrams ----------------

interface Packet {
  /** Datagram index (before faults) and position in the datagram. */
  k: number;
  slot: number;
  bytes: Uint8Array;
  sync: number;
  tei: boolean;
  pusi: boolean;
  pid: number;
  tsc: number;
  afc: number;
  cc: number;
  discontinuity: boolean;
  /** 27 MHz PCR, or -1. */
  pcr: number;
  /** Offset of the payload in bytes (-1: none). */
  payload: number;
}

function readPacket(k: number, slot: number, bytes: Uint8Array): Packet {
  const afc = (bytes[3] >> 4) & 3;
  let payload = afc & 1 ? 4 : -1;
  let discontinuity = false;
  let pcr = -1;
  if (afc & 2) {
    const length = bytes[4];
    if (length > 0) {
      discontinuity = (bytes[5] & 0x80) !== 0;
      if (bytes[5] & 0x10) {
        const base = bytes[6] * 2 ** 25 + bytes[7] * 2 ** 17 + bytes[8] * 2 ** 9 + bytes[9] * 2 +
          (bytes[10] >> 7);
        pcr = base * 300 + (((bytes[10] & 1) << 8) | bytes[11]);
      }
    }
    if (payload > 0) payload = 5 + length;
  }
  return {
    k,
    slot,
    bytes,
    sync: bytes[0],
    tei: (bytes[1] & 0x80) !== 0,
    pusi: (bytes[1] & 0x40) !== 0,
    pid: ((bytes[1] & 0x1f) << 8) | bytes[2],
    tsc: bytes[3] >> 6,
    afc,
    cc: bytes[3] & 15,
    discontinuity,
    pcr,
    payload,
  };
}

interface Datagram {
  k: number;
  bytes: Uint8Array;
}

/** Builds datagrams (all of them, in index order, or the given order) and reads their TS packets. */
function capture(signal: TestSignal, order?: number[]) {
  const ks = order ?? [...Array(signal.count).keys()];
  const datagrams: Datagram[] = [];
  const packets: Packet[] = [];
  const rtp = signal.mode === "ts" ? 0 : datagramRtpLength(signal);
  for (const k of ks) {
    const bytes = new Uint8Array(signal.datagramSize);
    assert.equal(signal.build(k, bytes, 0), signal.datagramSize);
    datagrams.push({ k, bytes });
    const S = signal.tsPacketSize;
    for (let slot = 0; slot < signal.tsPacketsPerDatagram; slot++) {
      packets.push(readPacket(k, slot, bytes.subarray(rtp + slot * S, rtp + (slot + 1) * S)));
    }
  }
  return { datagrams, packets };
}

function datagramRtpLength(signal: TestSignal): number {
  const b = new Uint8Array(signal.datagramSize);
  signal.build(0, b, 0);
  return 12 + (b[0] & 0x10 ? 4 + 4 * ((b[14] << 8) | b[15]) : 0);
}

/**
 * Continuity errors the way an analyser counts them (ETSI TR 101 290 1.4):
 * per PID with payload, CC + 1; a packet repeated once with the same CC is a
 * legal duplicate; a packet with discontinuity_indicator may jump.
 */
function ccErrors(packets: Packet[]): { pid: number; k: number }[] {
  const last = new Map<number, Packet>();
  const dupSeen = new Set<number>();
  const errors: { pid: number; k: number }[] = [];
  for (const p of packets) {
    if (p.pid === SIGNAL.PID_NULL || p.sync !== 0x47) continue;
    const prev = last.get(p.pid);
    if (!(p.afc & 1)) {
      if (prev && p.cc !== prev.cc) errors.push({ pid: p.pid, k: p.k });
      continue;
    }
    if (prev && !p.discontinuity) {
      if (p.cc === prev.cc && !dupSeen.has(p.pid)) {
        dupSeen.add(p.pid);
        continue;
      }
      if (p.cc !== ((prev.cc + 1) & 15)) errors.push({ pid: p.pid, k: p.k });
    }
    dupSeen.delete(p.pid);
    last.set(p.pid, p);
  }
  return errors;
}

/** The section a PSI packet carries (pointer_field 0, one section). */
function sectionOf(p: Packet): Uint8Array {
  const start = p.payload + 1 + p.bytes[p.payload];
  const length = ((p.bytes[start + 1] & 0x0f) << 8) | p.bytes[start + 2];
  return p.bytes.subarray(start, start + 3 + length);
}

const ms = (k: number, signal: TestSignal) => (k / signal.datagramRate) * 1000;
const tsSignal = (o: Partial<SignalOptions> = {}) =>
  new TestSignal({ mode: "ts", count: 1000, clockStart: 300 * 987654321, ...o });
const faults = (...specs: string[]): Fault[] => specs.map(parseFault);

// ---- PSI -------------------------------------------------------------------------

Deno.test("crc32Mpeg2() is CRC-32/MPEG-2 (check value of '123456789' is 0x0376E6E7)", () => {
  assert.equal(crc32Mpeg2(new TextEncoder().encode("123456789")), 0x0376e6e7);
});

Deno.test("the PAT, PMT and CAT sections verify: the CRC over the whole section leaves residue 0", () => {
  const signal = tsSignal({ cat: true, count: 2000 });
  const { packets } = capture(signal);
  const seen = new Map<number, number>();
  for (const p of packets) {
    if (![SIGNAL.PID_PAT, SIGNAL.PID_PMT, SIGNAL.PID_CAT].includes(p.pid as 0)) continue;
    assert.ok(p.pusi, "a section starts in every PSI packet");
    assert.equal(p.bytes[4], 0, "pointer_field 0");
    const s = sectionOf(p);
    assert.equal(crc32Mpeg2(s), 0, `CRC residue of PID ${p.pid} in datagram ${p.k}`);
    assert.equal(s[1] & 0xc0, 0x80, "section_syntax_indicator 1, '0'");
    assert.equal(s[5], 0xc1, "version 0, current_next_indicator 1");
    seen.set(p.pid, (seen.get(p.pid) ?? 0) + 1);
  }
  assert.ok(seen.get(SIGNAL.PID_PAT)! > 10 && seen.get(SIGNAL.PID_PMT)! > 10);
  assert.ok(seen.get(SIGNAL.PID_CAT)! >= 4, "a CAT every 500 ms");
  const pat = sectionOf(packets.find((p) => p.pid === SIGNAL.PID_PAT)!);
  assert.deepEqual([...pat.subarray(0, 3)], [0x00, 0xb0, 13], "table_id 0, section_length 13");
  assert.deepEqual([...pat.subarray(8, 12)], [0x00, 0x01, 0xe1, 0x00], "program 1 -> PMT 0x100");
  const pmt = sectionOf(packets.find((p) => p.pid === SIGNAL.PID_PMT)!);
  assert.deepEqual([...pmt.subarray(0, 5)], [0x02, 0xb0, 23, 0x00, 0x01], "PMT of program 1");
  assert.deepEqual(
    [...pmt.subarray(8, 22)],
    [0xe1, 0x01, 0xf0, 0x00, 0x1b, 0xe1, 0x01, 0xf0, 0x00, 0x0f, 0xe1, 0x02, 0xf0, 0x00],
    "PCR_PID 0x101, no program info, H.264 on 0x101, AAC on 0x102, no ES info",
  );
});

// ---- continuity, periods, clocks -------------------------------------------------------

Deno.test("continuity counters of every PID increment by one across datagrams; null packets keep 0", () => {
  const signal = tsSignal({ cat: true, count: 5000 });
  const { packets } = capture(signal);
  assert.deepEqual(ccErrors(packets), []);
  const perPid = new Map<number, number[]>();
  for (const p of packets) {
    if (!perPid.has(p.pid)) perPid.set(p.pid, []);
    perPid.get(p.pid)!.push(p.cc);
  }
  for (const [pid, ccs] of perPid) {
    if (pid === SIGNAL.PID_NULL) {
      assert.ok(ccs.every((cc) => cc === 0));
      continue;
    }
    ccs.forEach((cc, i) => assert.equal(cc, i & 15, `PID ${pid} packet ${i}`));
  }
  assert.deepEqual(
    [...perPid.keys()].sort((a, b) => a - b),
    [0x0000, 0x0001, 0x0100, 0x0101, 0x0102, 0x1fff],
  );
  assert.ok(packets.every((p) => p.sync === 0x47 && !p.tei && p.tsc === 0));
});

for (const bitrate of [10_000_000, 2_000_000]) {
  Deno.test(`at ${bitrate / 1e6} Mb/s the PCR comes every 40 ms and PAT and PMT every 100 ms (within one datagram), the PCR exact for its byte position`, () => {
    const signal = tsSignal({ bitrate, count: Math.ceil(10 * tsDatagramRate(bitrate)) });
    assert.equal(signal.datagramRate, bitrate / (7 * 188 * 8));
    const slack = 1000 / signal.datagramRate; // one datagram period, ms
    const { packets } = capture(signal);
    const times = (pick: (p: Packet) => boolean) =>
      packets.filter(pick).map((p) => ms(p.k, signal));
    const checkPeriod = (name: string, t: number[], period: number) => {
      const seconds = signal.count / signal.datagramRate;
      assert.ok(
        Math.abs(t.length - seconds * 1000 / period) <= 1,
        `${name}: ${t.length} in ${seconds} s`,
      );
      for (let i = 1; i < t.length; i++) {
        const gap = t[i] - t[i - 1];
        assert.ok(
          gap > period - slack - 1e-9 && gap < period + slack + 1e-9,
          `${name} interval ${gap.toFixed(3)} ms`,
        );
      }
    };
    checkPeriod("PCR", times((p) => p.pcr >= 0), 40);
    checkPeriod("PAT", times((p) => p.pid === SIGNAL.PID_PAT), 100);
    checkPeriod("PMT", times((p) => p.pid === SIGNAL.PID_PMT), 100);
    checkPeriod("video PES", times((p) => p.pid === SIGNAL.PID_VIDEO && p.pusi), 40);
    checkPeriod("audio PES", times((p) => p.pid === SIGNAL.PID_AUDIO && p.pusi), 24);
    // PCR = the time of the packet's byte 10 at the constant bitrate (a linear clock).
    const pcrs = packets.map((p, n) => ({ n, pcr: p.pcr })).filter((x) => x.pcr >= 0);
    const ticksPerPacket = (188 * 8 * 27e6) / bitrate;
    for (const { n, pcr } of pcrs) {
      const expected = 300 * 987654321 + (n + 10 / 188) * ticksPerPacket;
      assert.ok(Math.abs(pcr - expected) <= 1, `PCR of packet ${n}: ${pcr} vs ${expected}`);
    }
    // PTS = PCR + 100 ms minus how late the frame's datagram went (less than one period).
    for (const p of packets.filter((p) => p.pusi && p.pid === SIGNAL.PID_VIDEO)) {
      const q = p.payload + 9;
      const b = p.bytes;
      const pts = ((b[q] >> 1) & 7) * 2 ** 30 + b[q + 1] * 2 ** 22 + (b[q + 2] >> 1) * 2 ** 15 +
        b[q + 3] * 2 ** 7 + (b[q + 4] >> 1);
      const lead = pts - p.pcr / 300; // 90 kHz
      // (the PCR is that of the packet: up to a packet and 10 bytes into its datagram)
      assert.ok(lead <= 9000 && lead > 9000 - slack * 90 * 1.3, `PTS - PCR = ${lead}`);
    }
  });
}

Deno.test("a datagram holds 7 packets: at most one table, 4 video, at most one audio, the rest null", () => {
  const signal = tsSignal({ cat: true, count: 3000 });
  const { packets } = capture(signal);
  for (let k = 0; k < signal.count; k++) {
    const pids = packets.slice(7 * k, 7 * k + 7).map((p) => p.pid);
    const n = (pid: number) => pids.filter((x) => x === pid).length;
    assert.ok(n(0) + n(1) + n(0x100) <= 1);
    assert.equal(n(0x101), 4);
    assert.ok(n(0x102) <= 1);
    assert.ok(n(0x1fff) >= 1);
  }
});

// ---- faults ------------------------------------------------------------------

Deno.test("parseFault() reads every fault and refuses malformed ones", () => {
  assert.deepEqual(parseFault("drop=3,5,10..12"), {
    kind: "drop",
    at: [[3, 3], [5, 5], [10, 12]],
  });
  assert.deepEqual(parseFault("stop-pid=0x101@10..20"), {
    kind: "stop-pid",
    pid: 0x101,
    at: [[10, 20]],
  });
  assert.deepEqual(parseFault("stop-pid=258@7"), { kind: "stop-pid", pid: 258, at: [[7, 7]] });
  assert.deepEqual(parseFault("seq-jump=100:-5"), { kind: "seq-jump", at: 100, by: -5 });
  assert.deepEqual(parseFault("ssrc=9"), { kind: "ssrc", at: 9 });
  for (
    const bad of [
      "drop",
      "drop=",
      "drop=5..3",
      "drop=a",
      "nope=1",
      "stop-pid=0x2000@1",
      "seq-jump=1",
      "seq-jump=1:0",
    ]
  ) {
    assert.throws(() => parseFault(bad), Error, bad);
  }
});

Deno.test("IndexSet merges ranges and counts members below an index", () => {
  const s = new IndexSet([[10, 20], [5, 5], [21, 22], [30, 30]]);
  assert.equal(s.size, 15);
  assert.deepEqual([s.has(4), s.has(5), s.has(22), s.has(23), s.has(30)], [
    false,
    true,
    true,
    false,
    true,
  ]);
  assert.deepEqual([0, 6, 11, 23, 31].map((k) => s.countBelow(k)), [0, 1, 2, 14, 15]);
});

Deno.test("drop=3,5 removes exactly those datagrams, dup=20 repeats 20 back to back, reorder=30 sends 31 before 30", () => {
  const signal = tsSignal({ count: 100, faults: faults("drop=3,5", "dup=20", "reorder=30") });
  const order = signal.sendOrder();
  const expected = [...Array(100).keys()].filter((k) => k !== 3 && k !== 5);
  expected.splice(expected.indexOf(20), 0, 20);
  expected.splice(expected.indexOf(30), 2, 31, 30);
  assert.deepEqual(order, expected);
  assert.equal(signal.sentCount, 99);
  assert.deepEqual(signal.injected(), { drop: [3, 5], dup: [20], reorder: [30] });
  const { datagrams } = capture(signal, order);
  const i = order.indexOf(20);
  assert.deepEqual(datagrams[i].bytes, datagrams[i + 1].bytes, "identical bytes");
  // Content faults do not move with the send order: datagram 31 is the same bytes wherever it goes.
  assert.deepEqual(
    datagrams[order.indexOf(31)].bytes,
    capture(tsSignal({ count: 100 }), [31]).datagrams[0].bytes,
  );
});

Deno.test("cc=10 makes exactly one CC discontinuity, on the video PID at the first video packet of datagram 10", () => {
  const signal = tsSignal({ faults: faults("cc=10") });
  const { packets } = capture(signal);
  assert.deepEqual(ccErrors(packets), [{ pid: SIGNAL.PID_VIDEO, k: 10 }]);
  const first = packets.find((p) => p.k === 10 && p.pid === SIGNAL.PID_VIDEO)!;
  const before = packets.findLast((p) => p.k === 9 && p.pid === SIGNAL.PID_VIDEO)!;
  assert.equal(first.cc, (before.cc + 2) & 15, "one value skipped");
  assert.deepEqual(signal.injected(), { cc: [10] });
});

Deno.test("sync=7 and tei=12 damage exactly the first TS packet of those datagrams", () => {
  const signal = tsSignal({ faults: faults("sync=7", "tei=12") });
  const { packets } = capture(signal);
  assert.deepEqual(packets.filter((p) => p.sync !== 0x47).map((p) => [p.k, p.slot, p.sync]), [[
    7,
    0,
    0x46,
  ]]);
  assert.deepEqual(packets.filter((p) => p.tei).map((p) => [p.k, p.slot]), [[12, 0]]);
});

Deno.test("crc=40 gives the first PAT or PMT at or after datagram 40 a wrong CRC, and no other section", () => {
  const signal = tsSignal({ faults: faults("crc=40") });
  const { packets } = capture(signal);
  const psi = packets.filter((p) => p.pid === SIGNAL.PID_PAT || p.pid === SIGNAL.PID_PMT);
  const bad = psi.filter((p) => crc32Mpeg2(sectionOf(p)) !== 0).map((p) => p.k);
  const firstAfter = psi.find((p) => p.k >= 40)!.k;
  assert.deepEqual(bad, [firstAfter]);
  assert.deepEqual(signal.injected(), { crc: [firstAfter] });
});

Deno.test("no-pat=100..200 leaves no PAT in those datagrams (null packets instead), and no CC error when the PAT returns", () => {
  const signal = tsSignal({ faults: faults("no-pat=100..200", "no-pmt=300..400") });
  const clean = capture(tsSignal()).packets;
  const { packets } = capture(signal);
  const inRange = (p: Packet, a: number, b: number) => p.k >= a && p.k <= b;
  assert.equal(packets.filter((p) => p.pid === 0 && inRange(p, 100, 200)).length, 0);
  assert.equal(packets.filter((p) => p.pid === 0x100 && inRange(p, 300, 400)).length, 0);
  const missing = clean.filter((p) =>
    (p.pid === 0 && inRange(p, 100, 200)) || (p.pid === 0x100 && inRange(p, 300, 400))
  );
  const missingPat = missing.filter((p) => p.pid === 0).length;
  assert.ok(missingPat >= 1 && missing.length > missingPat, "a PAT and a PMT were due there");
  for (const m of missing) assert.equal(packets[m.k * 7 + m.slot].pid, SIGNAL.PID_NULL);
  assert.equal(packets.length, clean.length);
  assert.equal(
    packets.filter((p) => p.pid === 0).length,
    clean.filter((p) => p.pid === 0).length - missingPat,
  );
  assert.deepEqual(ccErrors(packets), []);
  assert.equal(signal.injected().no_pat!.length, 101);
});

Deno.test("stop-pid=0x102@50..150 replaces the audio packets there with null packets; the audio CC resumes", () => {
  const signal = tsSignal({ faults: faults("stop-pid=0x102@50..150") });
  const { packets } = capture(signal);
  assert.equal(packets.filter((p) => p.pid === 0x102 && p.k >= 50 && p.k <= 150).length, 0);
  assert.ok(packets.filter((p) => p.pid === 0x102 && p.k > 150).length > 0);
  assert.deepEqual(ccErrors(packets), []);
  assert.deepEqual(signal.injected().stop_pid, [{
    pid: 0x102,
    datagrams: [...Array(101).keys()].map((i) => 50 + i),
  }]);
});

Deno.test("pcr-gap=300..400 writes no PCR in those datagrams: the PCR interval stretches over them", () => {
  const signal = tsSignal({ faults: faults("pcr-gap=300..400") });
  const { packets } = capture(signal);
  const pcrs = packets.filter((p) => p.pcr >= 0);
  assert.equal(pcrs.filter((p) => p.k >= 300 && p.k <= 400).length, 0);
  const before = pcrs.findLast((p) => p.k < 300)!;
  const after = pcrs.find((p) => p.k > 400)!;
  assert.ok((after.pcr - before.pcr) / 27000 > 100, "more than 100 ms without a PCR");
  assert.deepEqual(ccErrors(packets), []);
});

Deno.test("scramble=5 sets transport_scrambling_control 10 on the first audio packet at or after datagram 5, only there", () => {
  const signal = tsSignal({ faults: faults("scramble=5") });
  const { packets } = capture(signal);
  const firstAudio = packets.find((p) => p.pid === SIGNAL.PID_AUDIO && p.k >= 5)!;
  assert.deepEqual(packets.filter((p) => p.tsc !== 0).map((p) => [p.k, p.pid, p.tsc]), [[
    firstAudio.k,
    SIGNAL.PID_AUDIO,
    2,
  ]]);
  assert.deepEqual(signal.injected(), { scramble: [firstAudio.k] });
});

Deno.test("discontinuity=200 is legal: indicator set on the first video packet of 200, the CC and the PCR jump there", () => {
  const signal = tsSignal({ faults: faults("discontinuity=200") });
  const { packets } = capture(signal);
  const flagged = packets.filter((p) => p.discontinuity);
  assert.equal(flagged.length, 1);
  const d = flagged[0];
  assert.deepEqual([d.k, d.pid], [200, SIGNAL.PID_VIDEO]);
  assert.deepEqual(ccErrors(packets), [], "no CC error: the indicator allows the jump");
  const prev = packets.findLast((p) => p.k === 199 && p.pid === SIGNAL.PID_VIDEO)!;
  assert.notEqual(d.cc, (prev.cc + 1) & 15, "the CC jumps");
  assert.ok(d.pcr >= 0, "a PCR of the new time base comes with the indicator");
  const prevPcr = packets.findLast((p) => p.k < 200 && p.pcr >= 0)!;
  const jump = (d.pcr - prevPcr.pcr) / 27e6;
  assert.ok(jump > 59 && jump < 61, `PCR jumps by ~60 s (${jump})`);
  // Every PCR after it is on the new time base: linear again.
  const after = packets.filter((p) => p.k > 200 && p.pcr >= 0);
  const rate = (after[1].pcr - after[0].pcr) /
    (packets.indexOf(after[1]) - packets.indexOf(after[0]));
  assert.ok(Math.abs(rate - (188 * 8 * 27e6) / 10e6) < 0.01);
});

Deno.test("legal-dup=100 repeats the first video packet of datagram 100 right after itself, keeping 7 packets and no CC error", () => {
  const clean = capture(tsSignal()).packets;
  const signal = tsSignal({ faults: faults("legal-dup=100", "legal-dup=76") });
  const { packets } = capture(signal);
  assert.equal(packets.length, clean.length);
  assert.deepEqual(ccErrors(packets), []);
  for (const k of [76, 100]) {
    const dg = packets.slice(7 * k, 7 * k + 7);
    const i = dg.findIndex((p) => p.pid === SIGNAL.PID_VIDEO);
    const [a, b] = [dg[i], dg[i + 1]];
    assert.equal(b.pid, SIGNAL.PID_VIDEO);
    assert.equal(b.cc, a.cc, "same CC");
    // Byte for byte, but for a PCR, which is valid for the duplicate's own position.
    const strip = (p: Packet) =>
      [...p.bytes.subarray(0, 188)].filter((_, j) => p.pcr < 0 || j < 6 || j > 11);
    assert.deepEqual(strip(b), strip(a));
    if (a.pcr >= 0) assert.ok(Math.abs(b.pcr - a.pcr - (188 * 8 * 27e6) / 10e6) <= 1);
    const videoAfter = dg.slice(i + 2).filter((p) => p.pid === SIGNAL.PID_VIDEO).length;
    assert.equal(videoAfter, 3, "the other video packets follow");
    assert.equal(
      dg.filter((p) => p.pid === SIGNAL.PID_NULL).length,
      clean.slice(7 * k, 7 * k + 7).filter((p) => p.pid === SIGNAL.PID_NULL).length - 1,
      "one null packet made room",
    );
  }
  // One of the two duplicates a frame start with its PCR (at 10 Mb/s frame 2 rides datagram 76).
  assert.ok(packets.slice(7 * 76, 7 * 76 + 7).filter((p) => p.pcr >= 0).length === 2);
  assert.ok(packets.slice(7 * 100, 7 * 100 + 7).every((p) => p.pcr < 0));
  assert.deepEqual(signal.injected(), { legal_dup: [76, 100] });
});

Deno.test("faults outside the signal, on the wrong kind of signal, or in conflict are refused", () => {
  assert.throws(() => tsSignal({ count: 10, faults: faults("drop=10") }), /beyond/);
  assert.throws(() => tsSignal({ count: 10, faults: faults("reorder=9") }), /no datagram 10/);
  assert.throws(() => tsSignal({ faults: faults("reorder=4,5") }), /overlap/);
  assert.throws(() => tsSignal({ faults: faults("drop=4", "dup=4") }), /both/);
  assert.throws(() => tsSignal({ faults: faults("ssrc=4") }), /RTP signal/);
  assert.throws(
    () => new TestSignal({ mode: "rtp", count: 10, rate: 100, size: 200, faults: faults("cc=1") }),
    /TS signal/,
  );
  assert.throws(() => tsSignal({ bitrate: 100_000 }), /bitrate/);
});

// ---- 204-byte packets ------------------------------------------------------------

Deno.test("--ts-size 204: 7 packets of 188 bytes + 16 zero parity bytes, the same stream", () => {
  const s188 = tsSignal({ count: 500 });
  const s204 = tsSignal({ count: 500, tsSize: 204 });
  assert.equal(s204.datagramSize, 7 * 204);
  assert.equal(s204.datagramRate, s188.datagramRate);
  const a = capture(s188).packets;
  const b = capture(s204).packets;
  assert.equal(b.length, a.length);
  for (let i = 0; i < a.length; i++) {
    assert.ok(b[i].bytes.subarray(188).every((x) => x === 0), "parity bytes 0");
    const same = (p: Packet) =>
      [...p.bytes.subarray(0, 188)].filter((_, j) => p.pcr < 0 || j < 6 || j > 11);
    assert.deepEqual(same(b[i]), same(a[i]));
    // The PCR is the time of byte 10: 10/204 of a packet's time in, not 10/188.
    const earlier = 10 * (1 / 188 - 1 / 204) * ((188 * 8 * 27e6) / 10e6);
    if (a[i].pcr >= 0) assert.ok(Math.abs(b[i].pcr - (a[i].pcr - earlier)) <= 1, "PCR of byte 10");
  }
  assert.deepEqual(ccErrors(b), []);
});

// ---- RTP -----------------------------------------------------------------------

function rtpHeader(b: Uint8Array) {
  const v = new DataView(b.buffer, b.byteOffset);
  return {
    version: b[0] >> 6,
    padding: (b[0] >> 5) & 1,
    extension: (b[0] >> 4) & 1,
    csrcs: b[0] & 15,
    marker: b[1] >> 7,
    pt: b[1] & 0x7f,
    seq: v.getUint16(2),
    timestamp: v.getUint32(4),
    ssrc: v.getUint32(8),
  };
}

Deno.test("RTP header: version 2, no padding, CSRC or extension, PT 33 over TS and 96 alone, sequence and 90 kHz timestamp from the datagram index", () => {
  const o = { count: 2000, rtpSeq: 65000, rtpTimestamp: 4294960000, ssrc: 0xdeadbeef };
  const mp2t = new TestSignal({ mode: "rtp+ts", ...o });
  assert.equal(mp2t.datagramSize, 12 + 1316);
  const plain = new TestSignal({ mode: "rtp", rate: 1000, size: 400, ...o });
  assert.equal(plain.datagramSize, 400);
  for (const [signal, pt] of [[mp2t, 33], [plain, 96]] as const) {
    for (const { k, bytes } of capture(signal, [0, 1, 535, 536, 1999]).datagrams) {
      const h = rtpHeader(bytes);
      assert.deepEqual(
        [h.version, h.padding, h.extension, h.csrcs, h.marker, h.pt, h.ssrc],
        [2, 0, 0, 0, 0, pt, 0xdeadbeef],
      );
      assert.equal(h.seq, (65000 + k) % 65536, "wraps at 2^16");
      const ticks = Math.floor((k * 90000) / signal.datagramRate);
      assert.equal(h.timestamp, (4294960000 + ticks) % 2 ** 32, "wraps at 2^32");
      if (signal === mp2t) {
        for (let i = 0; i < 7; i++) assert.equal(bytes[12 + 188 * i], 0x47);
      }
    }
  }
});

Deno.test("--rtp-extension adds an 8-byte one-byte-header extension (0xBEDE) carrying the datagram index", () => {
  const signal = new TestSignal({ mode: "rtp+ts", count: 100, rtpExtension: true });
  assert.equal(signal.datagramSize, 20 + 1316);
  const b = capture(signal, [77]).datagrams[0].bytes;
  assert.equal(rtpHeader(b).extension, 1);
  assert.deepEqual([...b.subarray(12, 20)], [0xbe, 0xde, 0x00, 0x01, 0x12, 0, 0, 77]);
  assert.equal(b[20], 0x47);
});

Deno.test("ssrc=500 restarts the sender (new SSRC and sequence); seq-jump=100:-5 and 800:300 shift the sequence from there", () => {
  const signal = new TestSignal({
    mode: "rtp+ts",
    count: 1000,
    rtpSeq: 10,
    ssrc: 1,
    seed: 42,
    faults: faults("ssrc=500", "seq-jump=100:-5", "seq-jump=800:300"),
  });
  const inj = signal.injected();
  assert.deepEqual(inj.seq_jump, [{ from: 100, by: -5 }, { from: 800, by: 300 }]);
  const restart = inj.ssrc![0];
  assert.equal(restart.from, 500);
  assert.notEqual(restart.ssrc, 1);
  const h = (k: number) => rtpHeader(capture(signal, [k]).datagrams[0].bytes);
  assert.deepEqual([h(99).seq, h(100).seq, h(499).seq], [109, 105, 504]);
  assert.deepEqual([h(499).ssrc, h(500).ssrc], [1, restart.ssrc]);
  assert.equal(h(500).seq, restart.seq);
  assert.equal(h(799).seq, (restart.seq + 299) % 65536);
  assert.equal(h(800).seq, (restart.seq + 300 + 300) % 65536);
  // Deterministic: the same options give the same bytes.
  const again = new TestSignal({
    mode: "rtp+ts",
    count: 1000,
    rtpSeq: 10,
    ssrc: 1,
    seed: 42,
    faults: faults("ssrc=500", "seq-jump=100:-5", "seq-jump=800:300"),
  });
  assert.deepEqual(
    capture(again, [600]).datagrams[0].bytes,
    capture(signal, [600]).datagrams[0].bytes,
  );
});

// ---- the hot path ----------------------------------------------------------------

Deno.test("building 100,000 datagrams allocates nothing per datagram (heap grows < 4 MB)", () => {
  const signal = new TestSignal({
    mode: "rtp+ts",
    count: 200_000,
    rtpExtension: true,
    faults: faults(
      "cc=5000",
      "no-pat=100..20000",
      "legal-dup=3000..90000",
      "discontinuity=70000",
      "seq-jump=10:3",
    ),
  });
  const out = new Uint8Array(64 * signal.datagramSize);
  for (let k = 0; k < 20_000; k++) signal.build(k, out, (k & 63) * signal.datagramSize); // warm up
  const before = Deno.memoryUsage().heapUsed;
  for (let k = 0; k < 100_000; k++) signal.build(k, out, (k & 63) * signal.datagramSize);
  const grown = Deno.memoryUsage().heapUsed - before;
  // Its speed is a benchmark's business; the test holds what load cannot change: no allocation.
  assert.ok(grown < 4 << 20, `heap grew by ${(grown / 1048576).toFixed(2)} MB`);
});

// ---- independent decoders ----------------------------------------------------------

function installed(command: string, args: string[]): boolean {
  try {
    return new Deno.Command(command, { args, stdout: "null", stderr: "null" }).outputSync()
      .success;
  } catch {
    return false;
  }
}

/** Three seconds of the clean `ts` signal as a .ts file. */
function threeSecondsFile(): string {
  const signal = tsSignal({ count: Math.ceil(3 * tsDatagramRate(SIGNAL.DEFAULT_BITRATE)) });
  const out = new Uint8Array(signal.count * signal.datagramSize);
  for (let k = 0; k < signal.count; k++) signal.build(k, out, k * signal.datagramSize);
  const file = Deno.makeTempFileSync({ suffix: ".ts" });
  Deno.writeFileSync(file, out);
  return file;
}

const hasFfprobe = installed("ffprobe", ["-version"]);
Deno.test({
  name:
    "ffprobe reads 3 s of the ts signal as program 1 with H.264 on 0x101 and AAC on 0x102, without errors" +
    (hasFfprobe ? "" : " [skipped: ffprobe not installed]"),
  ignore: !hasFfprobe,
  fn: () => {
    const file = threeSecondsFile();
    try {
      const r = new Deno.Command("ffprobe", {
        args: ["-v", "error", "-show_programs", "-show_streams", "-of", "json", file],
      }).outputSync();
      const stderr = new TextDecoder().decode(r.stderr);
      assert.ok(r.success, stderr);
      assert.equal(stderr, "", "ffprobe reports no errors");
      const probe = JSON.parse(new TextDecoder().decode(r.stdout));
      assert.equal(probe.programs.length, 1);
      const program = probe.programs[0];
      assert.equal(program.program_num, 1);
      assert.equal(program.pmt_pid, 0x100);
      assert.equal(program.pcr_pid, 0x101);
      const streams = program.streams.map((s: Record<string, unknown>) => [s.id, s.codec_name]);
      assert.deepEqual(streams, [["0x101", "h264"], ["0x102", "aac"]]);
      // And ffmpeg decodes both streams without a complaint (warnings included).
      const decode = new Deno.Command("ffmpeg", {
        args: ["-v", "warning", "-i", file, "-f", "null", "-"],
      }).outputSync();
      assert.ok(decode.success);
      assert.equal(new TextDecoder().decode(decode.stderr), "");
    } finally {
      Deno.removeSync(file);
    }
  },
});

const hasTsreport = installed("tsreport", ["-h"]) || installed("which", ["tsreport"]);
Deno.test({
  name: "tstools' tsreport finds the bitrate, linear PCRs and clean continuity in the ts signal" +
    (hasTsreport ? "" : " [skipped: tstools not installed]"),
  ignore: !hasTsreport,
  fn: () => {
    const file = threeSecondsFile();
    try {
      const r = new Deno.Command("tsreport", { args: ["-b", file] }).outputSync();
      const text = new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr);
      assert.match(text, /Overall stream rate=99999\d\d bits\/sec/);
      assert.match(text, /Bad \(>\.1s\) gaps: 0/);
      assert.match(text, /Linear PCR prediction errors: min=0t, max=0t/);
      assert.match(text, /PID 0101 \(257\), H\.264/);
      assert.match(text, /PID 0102 \(258\), 13818-7 Audio with ADTS/);
      assert.match(text, /DTS-last DTS: min=3600t, max=3600t/);
      assert.match(text, /DTS-last DTS: min=2160t, max=2160t/);
      assert.equal([...text.matchAll(/duplicate packets: 0/g)].length, 2);
    } finally {
      Deno.removeSync(file);
    }
  },
});

// ---- on the wire ------------------------------------------------------------------

Deno.test("sendPayloads() sends datagrams of different contents and lengths, back to back in one buffer, in one call", () => {
  const to = ip("127.0.0.1");
  const port = 40000 + Math.floor(Math.random() * 20000);
  const rx = UdpReceiver.open(to, port, 0, "the test receiver");
  const tx = UdpSender.open(4, null, 0, 8, "the test sender");
  try {
    const lengths = new Int32Array([3, 1000, 0, 17]);
    const payloads = new Uint8Array(1020);
    for (let i = 0; i < payloads.length; i++) payloads[i] = (i * 7) & 0xff;
    assert.equal(tx.sendPayloads(tx.destination(to, port), payloads, lengths, 4), 4);
    const got: Uint8Array[] = [];
    while (got.length < 4) {
      const n = rx.receive(1000);
      assert.ok(n > 0, "received");
      for (let i = 0; i < n; i++) {
        got.push(rx.buffer.slice(i * rx.slotSize, i * rx.slotSize + rx.lengths[i]));
      }
    }
    let off = 0;
    for (let i = 0; i < 4; i++) {
      assert.deepEqual(got[i], payloads.subarray(off, off + lengths[i]));
      off += lengths[i];
    }
    assert.throws(
      () => tx.sendPayloads(tx.destination(to, port), payloads, lengths.fill(600), 2),
      RangeError,
    );
  } finally {
    tx.close();
    rx.close();
  }
});

Deno.test("generate() sends the signal in its faulted order: the RTP sequence numbers show the drops, the duplicate and the swap", async () => {
  const to = ip("127.0.0.1");
  const port = 40000 + Math.floor(Math.random() * 20000);
  const rx = UdpReceiver.open(to, port, 0, "the test receiver");
  try {
    const signal = new TestSignal({
      mode: "rtp+ts",
      count: 300,
      bitrate: 20_000_000,
      rtpSeq: 100,
      faults: faults("drop=10,11", "dup=20", "reorder=30", "cc=50"),
    });
    const result = await generate({
      destination: to,
      port,
      count: 300,
      rate: 0,
      size: 0,
      source: null,
      ifindex: 0,
      ttl: 1,
      runId: 1,
      signal,
    });
    assert.equal(result.sent, 299);
    assert.equal(result.size, signal.datagramSize);
    assert.deepEqual(result.signal!.injected, {
      drop: [10, 11],
      dup: [20],
      reorder: [30],
      cc: [50],
    });
    const seqs: number[] = [];
    const bodies: Uint8Array[] = [];
    for (let idle = 0; seqs.length < 299 && idle < 5;) {
      const n = rx.receive(200);
      if (n === 0) idle++;
      for (let i = 0; i < n; i++) {
        const d = rx.buffer.subarray(i * rx.slotSize, i * rx.slotSize + rx.lengths[i]);
        seqs.push((d[2] << 8) | d[3]);
        bodies.push(d.slice());
      }
    }
    assert.deepEqual(seqs, signal.sendOrder().map((k) => 100 + k));
    const expected = new Uint8Array(signal.datagramSize);
    signal.build(50, expected, 0);
    assert.deepEqual(bodies[seqs.indexOf(150)], expected, "the bytes built are the bytes sent");
  } finally {
    rx.close();
  }
});
