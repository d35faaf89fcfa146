/**
 * The test signal's MPEG-TS (ISO/IEC 13818-1) writer: the schedule of the
 * periodic events (Periodic), the packet templates, PCR, PES headers and
 * PTS, null stuffing, and the 7 packets of datagram k with the TS faults in
 * them (TsWriter). The tables' sections are signal_psi.ts's, the elementary
 * streams signal_es.ts's. Imports signal_params.ts, signal_psi.ts,
 * signal_es.ts and signal_faults.ts.
 *
 * ## The transport stream
 *
 * One program (program_number 1) at a constant bitrate `bitrate` (bits per
 * second of 188-byte packets; in 204-byte mode the 16 parity bytes are extra
 * and the wire rate is bitrate * 204 / 188). Every datagram carries 7 TS
 * packets, so datagrams go at `bitrate / (7 * 188 * 8)` per second and
 * datagram k's nominal send time is k / that rate.
 *
 *   PID 0x0000 PAT   every 100 ms (phase 0)
 *   PID 0x0100 PMT   every 100 ms (phase 50 ms)  PCR_PID 0x101; 0x101 H.264 (0x1b), 0x102 AAC (0x0f)
 *   PID 0x0001 CAT   every 500 ms (phase 25 ms), only with `cat` (no descriptors)
 *   PID 0x0101 video 4 packets in every datagram; a PES starts every 40 ms (a "frame"),
 *                    in a packet whose adaptation field carries the PCR
 *   PID 0x0102 audio one packet every 24 ms holding a whole PES packet (length 178)
 *   PID 0x1FFF null  the rest (at least one per datagram)
 *
 * The elementary streams are small but real, so that decoders (ffprobe) accept
 * the stream without complaint: each video frame is a 16x16 grey H.264 IDR
 * picture followed by a filler-data NAL unit that runs to the next frame
 * (h264AccessUnit), each audio PES one silent AAC frame (adtsSilence).
 *
 * Scheduling: a periodic event e of a stream (period T, phase P) happens at
 * time P + e*T and is carried by the first datagram whose nominal send time
 * is at or after it, so it is late by less than one datagram period (1.05 ms
 * at 10 Mb/s, 5.3 ms at 2 Mb/s). The bitrate floor (MIN_BITRATE) keeps the
 * datagram period under 21.1 ms, which keeps every stream at most one event
 * per datagram and the three tables (25 ms apart at least) in different
 * datagrams. So a datagram holds, in this order: at most one PSI packet
 * (PAT, PMT or CAT), 4 video packets, at most one audio packet, and null
 * packets up to 7 (at least one: 1 + 4 + 1 = 6).
 *
 * Clocks: the system clock (27 MHz) starts at `clockStart`. The PCR written
 * in a packet is the nominal time of that packet's PCR base byte (byte 10)
 * at the constant bitrate: packet n = 7k + slot starts at n * 188 * 8 / bitrate
 * seconds. So PCR accuracy holds to a tick in a byte-timed analysis of the
 * stream (a file, or a receiver pacing by bytes); on the network all 7 packets
 * of a datagram arrive together, which is the datagram's send time. PTS are
 * the event's own nominal time (exact: 3600 ticks per video frame, 2160 per
 * audio frame at 90 kHz) + 100 ms, on the same clock, so PTS - PCR stays
 * between 100 ms minus one datagram period and 100 ms.
 *
 * Continuity counters count the packets of a PID actually sent (a PID
 * suppressed by no-pat / no-pmt / stop-pid resumes where it stopped: the
 * fault under test is then the missing PID alone, not a CC error as well).
 * Null packets keep CC 0.
 */
import { adtsSilence, h264AccessUnit } from "./signal_es.ts";
import { catSection, patSection, pmtSection } from "./signal_psi.ts";
import type { FaultPlan, IndexSet } from "./signal_faults.ts";
import { BITS_PER_DATAGRAM, SIGNAL } from "./signal_params.ts";

// ---- the schedule ----------------------------------------------------------------

/**
 * A periodic event of the TS (period and phase in ms): event e happens at
 * phase + e * period and rides the first datagram sent at or after it.
 */
class Periodic {
  /** Events per datagram (< 1) and the phase in events. */
  readonly #perDatagram: number;
  readonly #phase: number;
  constructor(periodMs: number, phaseMs: number, bitrate: number) {
    this.#perDatagram = (BITS_PER_DATAGRAM * 1000) / (periodMs * bitrate);
    this.#phase = phaseMs / periodMs;
  }
  /**
   * Events that happened by datagram k's send time. Monotone in k and grows by
   * at most one per datagram (perDatagram < 1), which is all the schedule needs.
   */
  count(k: number): number {
    return k < 0 ? 0 : Math.floor(k * this.#perDatagram - this.#phase) + 1;
  }
  /** The index of the event datagram k carries, or -1. */
  at(k: number): number {
    const n = this.count(k);
    return n > this.count(k - 1) ? n - 1 : -1;
  }
  /** Events carried by the datagrams of `set` below k (a suppressed PID's missing packets). */
  countIn(set: IndexSet, k: number): number {
    let n = 0;
    for (let i = 0; i < set.rangeCount; i++) {
      const a = set.rangeStart(i);
      if (a >= k) break;
      n += this.count(Math.min(set.rangeEnd(i), k - 1)) - this.count(a - 1);
    }
    return n;
  }
}

/** The 5 PTS bytes ('0010', 33 bits with marker bits) at out[q..q+5). */
function writePts(out: Uint8Array, q: number, pts: number): void {
  const hi = Math.floor(pts / 2 ** 30); // bits 32..30
  const lo = pts - hi * 2 ** 30; // bits 29..0
  out[q] = 0x21 | ((hi & 7) << 1);
  out[q + 1] = (lo >>> 22) & 0xff;
  out[q + 2] = ((lo >>> 14) & 0xfe) | 1;
  out[q + 3] = (lo >>> 7) & 0xff;
  out[q + 4] = ((lo & 0x7f) << 1) | 1;
}

// ---- the writer ------------------------------------------------------------------

/** What a TS signal is made of (checked by the caller). */
export interface TsFormat {
  /** Bits per second of 188-byte packets. */
  bitrate: number;
  /** 188 or 204 bytes per packet. */
  packetSize: number;
  /** A CAT on PID 1 every 500 ms. */
  cat: boolean;
  /** The 27 MHz clock at datagram 0, a multiple of 300. */
  clockStart: number;
}

/** Writes the 7 TS packets of datagram k; allocates nothing. */
export class TsWriter {
  readonly #S: number;
  readonly #clockStart: number;
  /** 27 MHz ticks per TS packet, and from a packet's start to its PCR base byte (byte 10). */
  readonly #ticksPerPacket: number;
  readonly #pcrByteTicks: number;

  // The periodic events.
  readonly #pat: Periodic;
  readonly #pmt: Periodic;
  readonly #cat: Periodic | null;
  readonly #video: Periodic;
  readonly #audio: Periodic;

  // Packet templates (tsSize bytes; CC 0).
  readonly #patPacket: Uint8Array;
  readonly #patBadCrc: Uint8Array;
  readonly #pmtPacket: Uint8Array;
  readonly #pmtBadCrc: Uint8Array;
  readonly #catPacket: Uint8Array;
  readonly #nullPacket: Uint8Array;
  readonly #videoPacket: Uint8Array;
  readonly #audioPacket: Uint8Array;
  /** A frame's H.264 access unit, for even and odd frames (idr_pic_id 0 and 1). */
  readonly #accessUnit0: Uint8Array;
  readonly #accessUnit1: Uint8Array;

  /** The faults that stay where they are listed, and the datagrams without each PID. */
  readonly #plan: FaultPlan;
  /** The point faults, moved to where they land (the first datagram that carries what they change). */
  readonly cc: IndexSet;
  readonly legalDup: IndexSet;
  readonly discontinuity: IndexSet;
  readonly scramble: IndexSet;
  readonly crc: IndexSet;

  constructor(f: TsFormat, plan: FaultPlan) {
    const b = f.bitrate;
    this.#S = f.packetSize;
    this.#clockStart = f.clockStart;
    this.#pat = new Periodic(SIGNAL.PAT_PERIOD_MS, SIGNAL.PAT_PHASE_MS, b);
    this.#pmt = new Periodic(SIGNAL.PMT_PERIOD_MS, SIGNAL.PMT_PHASE_MS, b);
    this.#cat = f.cat ? new Periodic(SIGNAL.CAT_PERIOD_MS, SIGNAL.CAT_PHASE_MS, b) : null;
    this.#video = new Periodic(SIGNAL.VIDEO_FRAME_MS, 0, b);
    this.#audio = new Periodic(SIGNAL.AUDIO_FRAME_MS, 0, b);
    this.#ticksPerPacket = (SIGNAL.TS_PACKET * 8 * 27e6) / b;
    this.#pcrByteTicks = (10 / this.#S) * this.#ticksPerPacket;

    this.#patPacket = this.#psiPacket(SIGNAL.PID_PAT, patSection(), false);
    this.#patBadCrc = this.#psiPacket(SIGNAL.PID_PAT, patSection(), true);
    this.#pmtPacket = this.#psiPacket(SIGNAL.PID_PMT, pmtSection(), false);
    this.#pmtBadCrc = this.#psiPacket(SIGNAL.PID_PMT, pmtSection(), true);
    this.#catPacket = this.#psiPacket(SIGNAL.PID_CAT, catSection(), false);
    this.#nullPacket = this.#packet(SIGNAL.PID_NULL, 0xff);
    this.#videoPacket = this.#packet(SIGNAL.PID_VIDEO, 0xff); // filler data (NAL type 12)
    this.#accessUnit0 = h264AccessUnit(0);
    this.#accessUnit1 = h264AccessUnit(1);
    this.#audioPacket = this.#packet(SIGNAL.PID_AUDIO, 0x00);
    // The audio PES header (PTS written per packet): the whole PES in one packet.
    this.#audioPacket.set(
      [0x00, 0x00, 0x01, 0xc0, 0x00, SIGNAL.AUDIO_PES_LENGTH, 0x80, 0x80, 0x05],
      4,
    );
    this.#audioPacket[1] |= 0x40; // payload_unit_start_indicator
    this.#audioPacket.set(adtsSilence(SIGNAL.TS_PACKET - 18), 18); // after the PTS

    // Point faults land on the first datagram at or after k that carries what they change.
    this.#plan = plan;
    const hasVideo = (k: number) => !plan.offVideo.has(k);
    this.cc = plan.land("cc", hasVideo);
    this.legalDup = plan.land("legal-dup", hasVideo);
    this.discontinuity = plan.land("discontinuity", hasVideo);
    this.scramble = plan.land("scramble", (k) => this.#audio.at(k) >= 0 && !plan.offAudio.has(k));
    this.crc = plan.land("crc", (k) =>
      (this.#pat.at(k) >= 0 && !plan.offPat.has(k)) ||
      (this.#pmt.at(k) >= 0 && !plan.offPmt.has(k)));
  }

  /** Writes the 7 packets of datagram k (0 <= k < count, before faults) at out[base..]. */
  write(k: number, out: Uint8Array, base: number): void {
    const S = this.#S;
    const jumps = this.discontinuity.countBelow(k + 1);
    const clock = (this.#clockStart + jumps * SIGNAL.DISCONTINUITY_CLOCK_JUMP_27M) %
      SIGNAL.PCR_WRAP;
    const clock90 = clock / 300; // exact: clockStart and the jump are multiples of 300
    let slot = this.#writeTable(k, out, base);
    slot = this.#writeVideo(k, out, base, slot, clock, jumps);
    slot += this.#writeAudio(k, out, base + slot * S, clock90);

    // 4. Null packets up to 7. There is always at least one (1 + 4 + 1 = 6 packets
    // above) and a legal duplicate takes the place of one: 1 + 4 + 1 + 1 = 7, so
    // the datagram never grows.
    while (slot < SIGNAL.TS_PACKETS_PER_DATAGRAM) {
      out.set(this.#nullPacket, base + slot * S);
      slot++;
    }

    // 5. Damage to the first packet, whatever it is.
    if (this.#plan.sync.has(k)) out[base] = 0x46;
    if (this.#plan.tei.has(k)) out[base + 1] |= 0x80;
  }

  /**
   * 1. At most one table (their events are >= 25 ms apart, a datagram < 21.1 ms).
   * Returns the slots it took (0 or 1).
   */
  #writeTable(k: number, out: Uint8Array, base: number): number {
    const plan = this.#plan;
    const pat = this.#pat.at(k);
    const pmt = this.#pmt.at(k);
    const cat = this.#cat === null ? -1 : this.#cat.at(k);
    if (pat >= 0) {
      const packet = this.crc.has(k) ? this.#patBadCrc : this.#patPacket;
      this.#writePsi(k, out, base, packet, this.#pat, pat, plan.offPat);
    } else if (pmt >= 0) {
      const packet = this.crc.has(k) ? this.#pmtBadCrc : this.#pmtPacket;
      this.#writePsi(k, out, base, packet, this.#pmt, pmt, plan.offPmt);
    } else if (cat >= 0) {
      this.#writePsi(k, out, base, this.#catPacket, this.#cat!, cat, plan.offCat);
    } else {
      return 0;
    }
    return 1;
  }

  /**
   * Table event `event` of `table` in datagram k: its packet, with the CC of the
   * packets of its PID sent so far, or a null packet if the PID is `off` in k.
   */
  #writePsi(
    k: number,
    out: Uint8Array,
    p: number,
    packet: Uint8Array,
    table: Periodic,
    event: number,
    off: IndexSet,
  ): void {
    if (off.has(k)) {
      out.set(this.#nullPacket, p);
    } else {
      out.set(packet, p);
      out[p + 3] |= (event - table.countIn(off, k)) & 15;
    }
  }

  /**
   * 2. Four video packets from `slot` on; the first starts the frame's PES when a
   * frame starts here. Returns the next free slot.
   */
  #writeVideo(
    k: number,
    out: Uint8Array,
    base: number,
    slot: number,
    clock: number,
    jumps: number,
  ): number {
    const S = this.#S;
    if (this.#plan.offVideo.has(k)) {
      for (let i = 0; i < SIGNAL.VIDEO_PACKETS_PER_DATAGRAM; i++) {
        out.set(this.#nullPacket, base + slot * S);
        slot++;
      }
      return slot;
    }
    const firstPacket = k * SIGNAL.TS_PACKETS_PER_DATAGRAM; // global packet index of slot 0
    // Video packets sent before this datagram, plus the CC skips and jumps so far.
    let cc = SIGNAL.VIDEO_PACKETS_PER_DATAGRAM * (k - this.#plan.offVideo.countBelow(k)) +
      this.cc.countBelow(k + 1) +
      SIGNAL.DISCONTINUITY_CC_JUMP * jumps;
    const frame = this.#video.at(k);
    const discontinuity = this.discontinuity.has(k);
    const pcr = (frame >= 0 || discontinuity) && !this.#plan.pcrGap.has(k);
    for (let i = 0; i < SIGNAL.VIDEO_PACKETS_PER_DATAGRAM; i++) {
      const p = base + slot * S;
      out.set(this.#videoPacket, p);
      if (i === 0 && (frame >= 0 || discontinuity)) {
        let q = p + 4; // after the header
        if (pcr || discontinuity) {
          out[p + 3] = 0x30; // adaptation field and payload
          out[q] = pcr ? 7 : 1; // adaptation_field_length
          out[q + 1] = (discontinuity ? 0x80 : 0) | (pcr ? 0x10 : 0); // flags
          if (pcr) this.#writePcr(out, p, clock, firstPacket + slot);
          q += 1 + out[q];
        }
        if (frame >= 0) this.#startFrame(out, p, q, frame, clock / 300);
      }
      // The frame's filler NAL unit ends in its last packet: rbsp_trailing_bits.
      if (i === SIGNAL.VIDEO_PACKETS_PER_DATAGRAM - 1 && this.#video.at(k + 1) >= 0) {
        out[p + SIGNAL.TS_PACKET - 1] = 0x80;
      }
      out[p + 3] |= cc & 15;
      cc++;
      slot++;
      if (i === 0 && this.legalDup.has(k)) {
        // A legal duplicate: the same packet again (same CC), right after it. Byte for
        // byte but for the PCR, which ISO/IEC 13818-1 wants valid for where it is.
        out.copyWithin(p + S, p, p + S);
        if (pcr) this.#writePcr(out, p + S, clock, firstPacket + slot);
        slot++;
      }
    }
    return slot;
  }

  /** The PES header of video frame `frame` at out[q..] and its access unit (packet at p). */
  #startFrame(out: Uint8Array, p: number, q: number, frame: number, clock90: number): void {
    out[p + 1] |= 0x40; // payload_unit_start_indicator
    out[q] = 0x00; // start code, stream_id 0xE0 (video), PES_packet_length 0
    out[q + 1] = 0x00;
    out[q + 2] = 0x01;
    out[q + 3] = 0xe0;
    out[q + 4] = 0x00;
    out[q + 5] = 0x00;
    out[q + 6] = 0x80; // '10', not scrambled, no flags
    out[q + 7] = 0x80; // PTS only
    out[q + 8] = 0x05; // PES_header_data_length
    writePts(
      out,
      q + 9,
      (clock90 + frame * 3600 + SIGNAL.PTS_OFFSET_90K) % SIGNAL.PTS_WRAP,
    );
    out.set(frame & 1 ? this.#accessUnit1 : this.#accessUnit0, q + 14);
  }

  /** 3. The audio packet of a frame starting in k, at p: the whole PES. Returns the slots taken. */
  #writeAudio(k: number, out: Uint8Array, p: number, clock90: number): number {
    const audio = this.#audio.at(k);
    if (audio < 0) return 0;
    if (this.#plan.offAudio.has(k)) {
      out.set(this.#nullPacket, p);
    } else {
      out.set(this.#audioPacket, p);
      out[p + 3] |= (audio - this.#audio.countIn(this.#plan.offAudio, k)) & 15;
      if (this.scramble.has(k)) out[p + 3] |= 0x80; // transport_scrambling_control 10
      writePts(
        out,
        p + 13,
        (clock90 + audio * 2160 + SIGNAL.PTS_OFFSET_90K) % SIGNAL.PTS_WRAP,
      );
    }
    return 1;
  }

  /** PCR of the packet at `p`, global packet index n: its byte 10's nominal time. */
  #writePcr(out: Uint8Array, p: number, clock: number, n: number): void {
    const pcr = (clock + Math.floor(n * this.#ticksPerPacket + this.#pcrByteTicks)) %
      SIGNAL.PCR_WRAP;
    const base = Math.floor(pcr / 300); // 33 bits
    const ext = pcr - base * 300; // 9 bits
    const hi = Math.floor(base / 2); // base bits 32..1
    out[p + 6] = hi >>> 24;
    out[p + 7] = (hi >>> 16) & 0xff;
    out[p + 8] = (hi >>> 8) & 0xff;
    out[p + 9] = hi & 0xff;
    out[p + 10] = ((base - hi * 2) << 7) | 0x7e | (ext >>> 8); // base bit 0, 6 reserved, ext bit 8
    out[p + 11] = ext & 0xff;
  }

  /** A packet of `pid` with payload only, CC 0, payload bytes `fill`; tsSize bytes. */
  #packet(pid: number, fill: number): Uint8Array {
    const bytes = new Uint8Array(this.#S);
    bytes.fill(fill, 4, SIGNAL.TS_PACKET); // bytes 188..203 (RS parity) stay 0
    bytes[0] = 0x47;
    bytes[1] = pid >>> 8;
    bytes[2] = pid & 0xff;
    bytes[3] = 0x10; // not scrambled, payload only, CC 0
    return bytes;
  }

  /** A packet holding one PSI section (pointer_field 0, then 0xFF stuffing). */
  #psiPacket(pid: number, section: Uint8Array, badCrc: boolean): Uint8Array {
    const bytes = this.#packet(pid, 0xff);
    bytes[1] |= 0x40; // payload_unit_start_indicator: a section starts here
    bytes[4] = 0x00; // pointer_field
    bytes.set(section, 5);
    if (badCrc) bytes[5 + section.length - 1] ^= 0xff;
    return bytes;
  }
}
