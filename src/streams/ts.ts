/**
 * MPEG-TS health on the data path: ETSI TR 101 290 priority 1 (1.1 to 1.6)
 * and a priority 2 subset (2.1, 2.2, 2.3a, 2.3b, 2.5, 2.6) over the TS
 * packets a datagram carries (1 to 7 of 188 or 204 bytes, in UDP or RTP),
 * following ISO/IEC 13818-1 for the headers, adaptation fields, PSI
 * sections (PAT, PMT, CAT, single-packet sections) and PES headers (PTS).
 * Times are the kernel's receive times of the datagrams. Not claimed: 2.4
 * (PCR accuracy needs hardware-grade arrival times; the PCR interval and the
 * PCR-to-arrival drift are reported as information), and sections that span
 * several packets (not checked, not counted as errors).
 *
 * Every read is bounds-checked against the datagram; nothing allocates.
 */
import type { StreamInspector } from "./inspector.ts";
import { mpegCrc32 } from "./crc32.ts";
import {
  MAX_PIDS,
  P,
  PID_IS_PCR,
  PID_IS_PMT,
  PID_REFERENCED,
  PID_SLOTS,
  PID_TABLE_BASE,
  S,
} from "./stream_slots.ts";

const SYNC = 0x47;
const NULL_PID = 0x1fff;
/** Sync is acquired after this many good sync bytes, lost after this many bad ones (TR 101 290 1.1). */
const SYNC_ACQUIRE = 5;
const SYNC_LOSE = 2;
const PAT_PMT_PERIOD_US = 500_000;
const PCR_DISCONTINUITY_US = 100_000;
const PTS_PERIOD_US = 700_000;
/** The periodic checks (PAT, PMT, PID presence) run at most this often. */
const CHECK_EVERY_US = 100_000;
/** 27 MHz PCR ticks per microsecond. */
const PCR_PER_US = 27;

const TS_PACKETS = S.ts_packets;
const SYNC_LOSS = S.ts_sync_loss;
const SYNC_BYTE_ERROR = S.ts_sync_byte_error;
const PAT_ERROR = S.ts_pat_error;
const CC_ERROR = S.ts_cc_error;
const PMT_ERROR = S.ts_pmt_error;
const PID_ERROR = S.ts_pid_error;
const TRANSPORT_ERROR = S.ts_transport_error;
const CRC_ERROR = S.ts_crc_error;
const PCR_REPETITION = S.ts_pcr_repetition_error;
const PCR_DISCONTINUITY = S.ts_pcr_discontinuity_error;
const PTS_ERROR = S.ts_pts_error;
const CAT_ERROR = S.ts_cat_error;
const NULLS = S.ts_null_packets;
const INVALID = S.ts_invalid;
const PACKET_SIZE = S.ts_packet_size;
const PCR_INTERVAL_MAX = S.ts_pcr_interval_max_us;
const PCR_DRIFT = S.ts_pcr_drift_ppm;
const SYNC_STATE = S.ts_sync_state;
const SYNC_GOOD = S.ts_sync_good;
const SYNC_BAD = S.ts_sync_bad;
const PAT_LAST = S.ts_pat_last_us;
const PAT_LATE = S.ts_pat_late;
const CAT_SEEN = S.ts_cat_seen;
const SCRAMBLE_COUNTED = S.ts_scramble_counted_us;
const NEXT_CHECK = S.ts_next_check_us;
const PCR_FIRST = S.ts_pcr_first;
const PCR_FIRST_US = S.ts_pcr_first_us;
const PIDS = S.ts_pids;
const LAST_P1 = S.last_p1_us;
const LAST_P1_SLOT = S.last_p1_slot;
const LAST_P2 = S.last_p2_us;
const LAST_P2_SLOT = S.last_p2_slot;

const C_PID = P.pid;
const C_PACKETS = P.packets;
const C_CC_ERRORS = P.cc_errors;
const C_LAST_CC = P.last_cc;
const C_DUP = P.dup_seen;
const C_LAST_US = P.last_us;
const C_FLAGS = P.flags;
const C_LAST_PCR = P.last_pcr;
const C_LAST_PCR_US = P.last_pcr_us;
const C_LAST_PTS_US = P.last_pts_us;
const C_MISSING = P.missing;

/** Counts one error of a TR 101 290 indicator and notes it as the stream's latest of its priority. */
function error(ins: StreamInspector, slot: number, p1: boolean, now: number): void {
  const b = ins.block;
  const o = ins.base;
  b[o + slot] += 1;
  if (p1) {
    b[o + LAST_P1] = now;
    b[o + LAST_P1_SLOT] = slot;
  } else {
    b[o + LAST_P2] = now;
    b[o + LAST_P2_SLOT] = slot;
  }
}

/** The packet size of a payload of `len` bytes: 188 or 204, or 0 when it is not whole packets. */
function packetSize(view: DataView, off: number, len: number): number {
  if (len > 0 && len % 188 === 0 && (len % 204 !== 0 || view.getUint8(off + 188) === SYNC)) {
    return 188;
  }
  if (len > 0 && len % 204 === 0) return 204;
  return 0;
}

/** Inspects the TS packets in [off, off+len) (a UDP or RTP payload). */
export function inspectTs(
  ins: StreamInspector,
  view: DataView,
  off: number,
  len: number,
  now: number,
): void {
  const b = ins.block;
  const o = ins.base;
  const size = packetSize(view, off, len);
  if (size === 0) {
    b[o + INVALID] += 1;
    return;
  }
  b[o + PACKET_SIZE] = size;
  for (let p = off; p + 188 <= off + len; p += size) packet(ins, view, p, now);
  if (now >= b[o + NEXT_CHECK]) {
    b[o + NEXT_CHECK] = now + CHECK_EVERY_US;
    periodic(ins, now);
  }
}

/** The PID table row of `pid` (created when new; -1 when the table is full). */
function row(ins: StreamInspector, pid: number): number {
  const r = ins.pidRow[pid];
  if (r >= 0) return r;
  const b = ins.block;
  const o = ins.base;
  const used = b[o + PIDS];
  if (used >= MAX_PIDS) return -1;
  const at = o + PID_TABLE_BASE + used * PID_SLOTS;
  b[at + C_PID] = pid;
  b[at + C_LAST_CC] = -1;
  b[at + C_LAST_PCR] = -1;
  b[at + C_LAST_PCR_US] = -1;
  b[at + C_LAST_PTS_US] = -1;
  b[o + PIDS] = used + 1;
  ins.pidRow[pid] = used;
  return used;
}

function packet(ins: StreamInspector, view: DataView, p: number, now: number): void {
  const b = ins.block;
  const o = ins.base;
  b[o + TS_PACKETS] += 1;
  // 1.1 / 1.2: the sync byte, with hysteresis.
  if (view.getUint8(p) !== SYNC) {
    b[o + SYNC_GOOD] = 0;
    b[o + SYNC_BAD] += 1;
    if (b[o + SYNC_STATE] === 1) {
      error(ins, SYNC_BYTE_ERROR, true, now);
      if (b[o + SYNC_BAD] >= SYNC_LOSE) {
        b[o + SYNC_STATE] = 0;
        error(ins, SYNC_LOSS, true, now);
      }
    }
    return; // nothing else in it can be trusted
  }
  b[o + SYNC_BAD] = 0;
  b[o + SYNC_GOOD] += 1;
  if (b[o + SYNC_STATE] === 0 && b[o + SYNC_GOOD] >= SYNC_ACQUIRE) b[o + SYNC_STATE] = 1;

  const h1 = view.getUint8(p + 1);
  const pid = ((h1 & 0x1f) << 8) | view.getUint8(p + 2);
  const h3 = view.getUint8(p + 3);
  const scrambling = h3 >> 6;
  const afc = (h3 >> 4) & 3;
  const cc = h3 & 0x0f;
  // 2.1: the demodulator or a remultiplexer marked it as damaged. It was received, so its
  // counter still counts (skipping it would add a continuity error for a packet that came);
  // nothing of its payload is read.
  const damaged = (h1 & 0x80) !== 0;
  if (damaged) error(ins, TRANSPORT_ERROR, false, now);
  if (pid === NULL_PID) {
    b[o + NULLS] += 1;
    return;
  }
  const r = row(ins, pid);
  const at = r >= 0 ? o + PID_TABLE_BASE + r * PID_SLOTS : -1;
  if (at >= 0) {
    b[at + C_PACKETS] += 1;
    b[at + C_LAST_US] = now;
    // Present again (1.6); a PMT PID is present again only with a valid PMT (pmt()).
    if ((b[at + C_FLAGS] & PID_IS_PMT) === 0) b[at + C_MISSING] = 0;
  }
  // The adaptation field, bounds-checked.
  let payload = p + 4;
  let discontinuity = false;
  if ((afc & 2) !== 0) {
    const afLen = view.getUint8(p + 4);
    if (afLen > 183 || (afc === 2 && afLen !== 183)) {
      b[o + INVALID] += 1;
      return;
    }
    payload = p + 5 + afLen;
    if (afLen > 0) {
      const flags = view.getUint8(p + 5);
      discontinuity = (flags & 0x80) !== 0;
      if ((flags & 0x10) !== 0 && afLen >= 7 && at >= 0) {
        pcr(ins, view, p + 6, at, discontinuity, now);
      }
    }
  }
  // 1.4: continuity (packets with payload count; one repeat is legal).
  if (at >= 0) continuity(ins, at, cc, (afc & 1) !== 0, discontinuity, now);
  if (damaged) return;
  if (scrambling !== 0) {
    // 2.6: scrambled packets need a CAT (counted at most once a second).
    if (b[o + CAT_SEEN] === 0 && now - b[o + SCRAMBLE_COUNTED] >= 1_000_000) {
      b[o + SCRAMBLE_COUNTED] = now;
      error(ins, CAT_ERROR, false, now);
    }
    if (pid === 0) error(ins, PAT_ERROR, true, now); // 1.3.a
    else if (at >= 0 && (b[at + C_FLAGS] & PID_IS_PMT) !== 0) error(ins, PMT_ERROR, true, now); // 1.5.a
    return;
  }
  if ((afc & 1) === 0 || payload >= p + 188) return;
  const pusi = (h1 & 0x40) !== 0;
  if (!pusi) return;
  if (pid === 0) psi(ins, view, payload, p + 188, 0x00, at, now);
  else if (pid === 1) psi(ins, view, payload, p + 188, 0x01, at, now);
  else if (at >= 0 && (b[at + C_FLAGS] & PID_IS_PMT) !== 0) {
    psi(ins, view, payload, p + 188, 0x02, at, now);
  } else if (at >= 0) pes(ins, view, payload, p + 188, at, now);
}

function continuity(
  ins: StreamInspector,
  at: number,
  cc: number,
  hasPayload: boolean,
  discontinuity: boolean,
  now: number,
): void {
  const b = ins.block;
  const last = b[at + C_LAST_CC];
  if (discontinuity || last < 0) {
    b[at + C_LAST_CC] = cc;
    b[at + C_DUP] = 0;
    return;
  }
  if (!hasPayload) return; // its counter does not move (13818-1 2.4.3.3)
  if (cc === last) {
    if (b[at + C_DUP] === 0) {
      b[at + C_DUP] = 1; // one duplicate is legal
      return;
    }
    b[at + C_CC_ERRORS] += 1; // a packet more than twice
    error(ins, CC_ERROR, true, now);
    return;
  }
  b[at + C_DUP] = 0;
  b[at + C_LAST_CC] = cc;
  if (cc !== ((last + 1) & 0x0f)) {
    b[at + C_CC_ERRORS] += 1;
    error(ins, CC_ERROR, true, now);
  }
}

/** A PCR (33-bit base at 90 kHz, 9-bit extension) at `q`: 2.3a, 2.3b and the information figures. */
function pcr(
  ins: StreamInspector,
  view: DataView,
  q: number,
  at: number,
  discontinuity: boolean,
  now: number,
): void {
  const b = ins.block;
  const o = ins.base;
  const hi = view.getUint32(q); // base bits 32..1
  const lo = view.getUint16(q + 4); // base bit 0, reserved, extension
  const value = (hi * 2 + (lo >> 15)) * 300 + (lo & 0x1ff);
  const lastUs = b[at + C_LAST_PCR_US];
  if (lastUs >= 0 && !discontinuity) {
    const gapUs = now - lastUs;
    if (gapUs > ins.pcrLimitUs) error(ins, PCR_REPETITION, false, now);
    if (gapUs > b[o + PCR_INTERVAL_MAX]) b[o + PCR_INTERVAL_MAX] = gapUs;
    const stepUs = (value - b[at + C_LAST_PCR]) / PCR_PER_US;
    if (stepUs < 0 || stepUs > PCR_DISCONTINUITY_US) error(ins, PCR_DISCONTINUITY, false, now);
  }
  if (discontinuity || b[o + PCR_FIRST_US] === 0) {
    b[o + PCR_FIRST] = value;
    b[o + PCR_FIRST_US] = now;
  } else if (now - b[o + PCR_FIRST_US] > 1_000_000) {
    const pcrUs = (value - b[o + PCR_FIRST]) / PCR_PER_US;
    const wallUs = now - b[o + PCR_FIRST_US];
    b[o + PCR_DRIFT] = Math.round((pcrUs - wallUs) / wallUs * 1e6);
  }
  b[at + C_LAST_PCR] = value;
  b[at + C_LAST_PCR_US] = now;
  b[at + C_FLAGS] = b[at + C_FLAGS] | PID_IS_PCR;
}

/** A PES header at the start of a payload unit: 2.5 for its PTS. */
function pes(
  ins: StreamInspector,
  view: DataView,
  q: number,
  end: number,
  at: number,
  now: number,
): void {
  if (q + 9 > end) return;
  if (view.getUint8(q) !== 0 || view.getUint8(q + 1) !== 0 || view.getUint8(q + 2) !== 1) return;
  const streamId = view.getUint8(q + 3);
  // Streams without the optional PES header (padding, private 2, ...) carry no PTS.
  if (streamId === 0xbc || streamId === 0xbe || streamId === 0xbf || streamId === 0xf0) return;
  if ((view.getUint8(q + 7) & 0x80) === 0) return; // no PTS
  const b = ins.block;
  const last = b[at + C_LAST_PTS_US];
  if (last >= 0 && now - last > PTS_PERIOD_US) error(ins, PTS_ERROR, false, now);
  b[at + C_LAST_PTS_US] = now;
}

/**
 * A PSI section starting in this packet (PAT on PID 0, CAT on PID 1, PMT on
 * a PMT PID): its table_id, its CRC, and what it tells.
 */
function psi(
  ins: StreamInspector,
  view: DataView,
  q: number,
  end: number,
  expected: number,
  at: number,
  now: number,
): void {
  const b = ins.block;
  const o = ins.base;
  const start = q + 1 + view.getUint8(q); // pointer_field
  if (start + 3 > end) return;
  const tableId = view.getUint8(start);
  if (tableId === 0xff) return; // stuffing
  if (tableId !== expected) {
    if (expected === 0x00) error(ins, PAT_ERROR, true, now); // 1.3.a
    else if (expected === 0x01) error(ins, CAT_ERROR, false, now); // 2.6
    else error(ins, PMT_ERROR, true, now); // 1.5.a
    return;
  }
  const sectionLength = view.getUint16(start + 1) & 0x0fff;
  const sectionEnd = start + 3 + sectionLength;
  if (sectionLength < 9 || sectionEnd > end) return; // spans packets: not checked
  if (mpegCrc32(view, start, sectionEnd - start) !== 0) {
    error(ins, CRC_ERROR, false, now); // 2.2 (the CRC over a section with its CRC leaves 0)
    return;
  }
  if (expected === 0x00) {
    b[o + PAT_LAST] = now;
    b[o + PAT_LATE] = 0;
    // Programs: 4 bytes each, from the 8th byte to the CRC.
    for (let e = start + 8; e + 4 <= sectionEnd - 4; e += 4) {
      if (view.getUint16(e) === 0) continue; // the network PID
      const pmtPid = view.getUint16(e + 2) & 0x1fff;
      const r = row(ins, pmtPid);
      if (r < 0) continue;
      const at = o + PID_TABLE_BASE + r * PID_SLOTS;
      if ((b[at + C_FLAGS] & PID_IS_PMT) === 0) {
        b[at + C_FLAGS] = b[at + C_FLAGS] | PID_IS_PMT;
        b[at + C_LAST_PTS_US] = now; // the PMT's own last-seen time starts with the PAT that names it
      }
    }
  } else if (expected === 0x01) {
    b[o + CAT_SEEN] = 1;
  } else {
    pmt(ins, view, start, sectionEnd, at, now);
  }
}

/**
 * A valid PMT section in [start, end) on the PMT PID whose row is at `at`:
 * the elementary streams become referenced PIDs (1.6).
 */
function pmt(
  ins: StreamInspector,
  view: DataView,
  start: number,
  end: number,
  at: number,
  now: number,
): void {
  const b = ins.block;
  const o = ins.base;
  // The PMT's arrival (kept in its row's PTS column, which a PMT PID does not use).
  b[at + C_LAST_PTS_US] = now;
  b[at + C_MISSING] = 0;
  const infoLength = view.getUint16(start + 10) & 0x0fff;
  let e = start + 12 + infoLength;
  while (e + 5 <= end - 4) {
    const pid = view.getUint16(e + 1) & 0x1fff;
    const esInfo = view.getUint16(e + 3) & 0x0fff;
    const r = row(ins, pid);
    if (r >= 0) {
      const es = o + PID_TABLE_BASE + r * PID_SLOTS;
      if ((b[es + C_FLAGS] & PID_REFERENCED) === 0) {
        b[es + C_FLAGS] = b[es + C_FLAGS] | PID_REFERENCED;
        if (b[es + C_LAST_US] === 0) b[es + C_LAST_US] = now; // absent from now on counts
      }
    }
    e += 5 + esInfo;
  }
}

/** PAT and PMT periods (1.3, 1.5) and referenced PIDs' presence (1.6): one error per gap. */
function periodic(ins: StreamInspector, now: number): void {
  const b = ins.block;
  const o = ins.base;
  if (b[o + PAT_LAST] === 0) b[o + PAT_LAST] = now; // the first PAT is awaited from the first packet
  if (b[o + PAT_LATE] === 0 && now - b[o + PAT_LAST] > PAT_PMT_PERIOD_US) {
    b[o + PAT_LATE] = 1;
    error(ins, PAT_ERROR, true, now);
  }
  const rows = b[o + PIDS];
  for (let r = 0; r < rows; r++) {
    const at = o + PID_TABLE_BASE + r * PID_SLOTS;
    const flags = b[at + C_FLAGS];
    if ((flags & PID_IS_PMT) !== 0) {
      // A PMT PID's last PMT is kept in its PTS column.
      if (b[at + C_MISSING] === 0 && now - b[at + C_LAST_PTS_US] > PAT_PMT_PERIOD_US) {
        b[at + C_MISSING] = 1;
        error(ins, PMT_ERROR, true, now);
      }
    } else if ((flags & PID_REFERENCED) !== 0) {
      if (b[at + C_MISSING] === 0 && now - b[at + C_LAST_US] > ins.pidPeriodUs) {
        b[at + C_MISSING] = 1;
        error(ins, PID_ERROR, true, now);
      }
    }
  }
}
