/**
 * RTP (RFC 3550) on the data path: the header checked, the sequence numbers
 * followed as Appendix A.1 does (MAX_DROPOUT, MAX_MISORDER, restarts that
 * the next packet confirms), with a window of the last 1024 sequence numbers
 * so that duplicates and late packets are told apart (A.1 counts a duplicate
 * as received, which makes its loss go negative; here it is counted on its
 * own and loss is never negative), and the interarrival jitter of 6.4.1 from
 * the kernel's receive times. Allocation-free; state lives in the stream's
 * block (stream_slots.ts) and the inspector's own typed arrays.
 */
import type { StreamInspector } from "./inspector.ts";
import { S } from "./stream_slots.ts";

const MAX_DROPOUT = 3000;
const MAX_MISORDER = 100;
const SEQ_MOD = 65536;
/** The duplicate window: sequence numbers remembered, a power of two above MAX_MISORDER. */
export const SEQ_WINDOW = 1024;

const PACKETS = S.rtp_packets;
const INVALID = S.rtp_invalid;
const LOST = S.rtp_lost;
const PENDING = S.rtp_pending_gaps;
const DUPLICATES = S.rtp_duplicates;
const REORDERED = S.rtp_reordered;
const RESTARTS = S.rtp_restarts;
const SSRC_CHANGES = S.rtp_ssrc_changes;
const SSRC = S.rtp_ssrc;
const PT = S.rtp_payload_type;
const CLOCK = S.rtp_clock_rate;
const JITTER = S.rtp_jitter;
const JITTER_MAX = S.rtp_jitter_max;
const MAX_SEQ = S.rtp_max_seq;
const BASE_SEQ = S.rtp_base_seq;
const BAD_SEQ = S.rtp_bad_seq;
const RECEIVED = S.rtp_received;
const TRANSIT = S.rtp_transit;
const STARTED = S.rtp_started;
const LAST_LOSS = S.rtp_last_loss_us;

/** Clock rates of the static payload types (RFC 3551 tables 4 and 5); 0: not static. */
export function staticClockRate(pt: number): number {
  if (pt === 0 || pt === 3 || pt === 4 || pt === 5 || pt === 7 || pt === 8 || pt === 9) return 8000;
  if (pt === 6) return 16000;
  if (pt === 10 || pt === 11) return 44100;
  if (pt === 16) return 11025;
  if (pt === 17) return 22050;
  if (pt === 14 || pt === 25 || pt === 26 || pt === 28 || (pt >= 31 && pt <= 34)) return 90000;
  return 0;
}

/**
 * Checks the RTP header of the datagram payload [off, off+len) and follows
 * its sequence number. Returns the offset of the RTP payload (after CSRCs
 * and the extension), with its length in ins.payloadLen, or -1 when the
 * datagram is not valid RTP (counted).
 */
export function inspectRtp(
  ins: StreamInspector,
  view: DataView,
  off: number,
  len: number,
  arrivalUs: number,
): number {
  const b = ins.block;
  const o = ins.base;
  if (len < 12) {
    b[o + INVALID] += 1;
    return -1;
  }
  const first = view.getUint8(off);
  if (first >> 6 !== 2) {
    b[o + INVALID] += 1;
    return -1;
  }
  let header = 12 + (first & 0x0f) * 4; // CSRC list
  if ((first & 0x10) !== 0) {
    // Extension: a 4-byte header whose second half is its length in 32-bit words.
    if (header + 4 > len) {
      b[o + INVALID] += 1;
      return -1;
    }
    header += 4 + view.getUint16(off + header + 2) * 4;
  }
  let end = len;
  if ((first & 0x20) !== 0) {
    // Padding: its count is the last byte, itself included.
    const pad = view.getUint8(off + len - 1);
    if (pad === 0 || header + pad > len) {
      b[o + INVALID] += 1;
      return -1;
    }
    end = len - pad;
  }
  if (header > end) {
    b[o + INVALID] += 1;
    return -1;
  }
  const pt = view.getUint8(off + 1) & 0x7f;
  const seq = view.getUint16(off + 2);
  const ts = view.getUint32(off + 4);
  const ssrc = view.getUint32(off + 8);
  b[o + PACKETS] += 1;
  b[o + PT] = pt;
  if (b[o + STARTED] === 0 || b[o + SSRC] !== ssrc) {
    if (b[o + STARTED] !== 0) b[o + SSRC_CHANGES] += 1;
    b[o + SSRC] = ssrc;
    const rate = ins.clockRate > 0 ? ins.clockRate : staticClockRate(pt);
    b[o + CLOCK] = rate > 0 ? rate : 90000;
    startRun(ins, seq);
    b[o + TRANSIT] = arrivalUs * b[o + CLOCK] / 1e6 - ts;
  } else if (followSeq(ins, seq, arrivalUs)) {
    jitter(ins, arrivalUs, ts);
  }
  ins.payloadLen = end - header;
  return off + header;
}

/** A new run of sequence numbers starts at `seq` (first packet, new SSRC, or restart). */
function startRun(ins: StreamInspector, seq: number): void {
  const b = ins.block;
  const o = ins.base;
  ins.seen.fill(0);
  b[o + STARTED] = 1;
  b[o + BASE_SEQ] = seq;
  b[o + MAX_SEQ] = seq;
  b[o + BAD_SEQ] = -1;
  b[o + RECEIVED] = 1;
  b[o + PENDING] = 0;
  mark(ins, seq);
}

function mark(ins: StreamInspector, ext: number): void {
  const bit = ext & (SEQ_WINDOW - 1);
  ins.seen[bit >> 5] |= 1 << (bit & 31);
}

function marked(ins: StreamInspector, ext: number): boolean {
  const bit = ext & (SEQ_WINDOW - 1);
  return (ins.seen[bit >> 5] & (1 << (bit & 31))) !== 0;
}

function unmark(ins: StreamInspector, ext: number): void {
  const bit = ext & (SEQ_WINDOW - 1);
  ins.seen[bit >> 5] &= ~(1 << (bit & 31));
}

/**
 * A.1's update_seq over the extended sequence number, plus the window.
 * Returns true when the packet is one to compute jitter with (in the run,
 * not a duplicate).
 */
function followSeq(ins: StreamInspector, seq: number, arrivalUs: number): boolean {
  const b = ins.block;
  const o = ins.base;
  const max = b[o + MAX_SEQ];
  // The extended number of this packet nearest to the highest one.
  let ext = max - (max % SEQ_MOD) + seq;
  if (ext - max > SEQ_MOD / 2) ext -= SEQ_MOD;
  else if (max - ext > SEQ_MOD / 2) ext += SEQ_MOD;
  const delta = ext - max;
  if (delta > 0 && delta < MAX_DROPOUT) {
    // In order, with a permissible gap: numbers falling out of the misorder
    // window without having come are lost; the new ones enter it unseen.
    let pending = b[o + PENDING] + delta - 1; // the numbers skipped are gaps for now
    for (let e = max + 1; e <= ext; e++) {
      const leaving = e - MAX_MISORDER - 1;
      if (leaving >= b[o + BASE_SEQ] && !marked(ins, leaving)) {
        b[o + LOST] += 1;
        b[o + LAST_LOSS] = arrivalUs;
        pending--;
      }
      unmark(ins, e);
    }
    mark(ins, ext);
    b[o + MAX_SEQ] = ext;
    b[o + RECEIVED] += 1;
    b[o + BAD_SEQ] = -1;
    b[o + PENDING] = pending;
    return true;
  }
  if (delta <= 0 && -delta <= MAX_MISORDER) {
    if (marked(ins, ext)) {
      b[o + DUPLICATES] += 1;
      return false;
    }
    if (ext < b[o + BASE_SEQ]) return false; // before the run began: ignored
    // Late, but within the window: it fills a gap.
    mark(ins, ext);
    b[o + REORDERED] += 1;
    b[o + RECEIVED] += 1;
    b[o + PENDING] -= 1;
    return true;
  }
  if (delta <= 0 && -delta < SEQ_WINDOW && marked(ins, ext)) {
    b[o + DUPLICATES] += 1; // an old copy, still remembered
    return false;
  }
  // A jump: taken as a restart only when the next packet follows it (A.1's bad_seq).
  if (seq === b[o + BAD_SEQ]) {
    b[o + RESTARTS] += 1;
    startRun(ins, seq);
    return false;
  }
  b[o + BAD_SEQ] = (seq + 1) % SEQ_MOD;
  return false;
}

/** RFC 3550 6.4.1: J += (|D| - J) / 16, D the change in relative transit time (timestamp units). */
function jitter(ins: StreamInspector, arrivalUs: number, ts: number): void {
  const b = ins.block;
  const o = ins.base;
  const transit = arrivalUs * b[o + CLOCK] / 1e6 - ts;
  let d = transit - b[o + TRANSIT];
  b[o + TRANSIT] = transit;
  // The 32-bit timestamp wraps: a difference of more than half its range is the wrap.
  if (d > 2147483648) d -= 4294967296;
  else if (d < -2147483648) d += 4294967296;
  if (d < 0) d = -d;
  const j = b[o + JITTER] + (d - b[o + JITTER]) / 16;
  b[o + JITTER] = j;
  if (j > b[o + JITTER_MAX]) b[o + JITTER_MAX] = j;
}
