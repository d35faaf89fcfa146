/**
 * Test signals for `mcr gen --signal`: the payload of datagram k of an RTP
 * stream (RFC 3550), an RTP stream carrying MPEG-TS (RFC 2250, payload type
 * 33), or raw MPEG-TS in UDP (ISO/IEC 13818-1), with faults injected on
 * purpose so that stream-health checks have ground truth.
 *
 * Pure: no I/O, no clock, no randomness (the caller picks the random starts
 * and passes them in). Datagram k's bytes depend only on k and the options,
 * so any datagram can be built on its own, in any order.
 *
 * Hot path: `build(k, out, offset)` writes into the caller's buffer and
 * allocates nothing (templates are made once in the constructor, per-datagram
 * state lives in locals).
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
 *
 * ## RTP
 *
 * 12-byte header: version 2, no padding, no CSRC, marker 0, payload type 33
 * (MP2T) for rtp+ts or 96 for rtp, sequence number rtpSeq + k (mod 2^16),
 * timestamp rtpTimestamp + floor(k * 90000 / datagram rate) (mod 2^32), SSRC
 * `ssrc`. With `rtpExtension` the X bit is set and an 8-byte extension block
 * follows: profile 0xBEDE (RFC 8285 one-byte elements), length 1 word, one
 * element ID 1 of 3 bytes holding k mod 2^24 (mcr's own: the datagram index).
 * The `rtp` payload is filler (byte i = i & 0xff) up to `size` bytes.
 *
 * ## Faults
 *
 * Indices are datagram indices k, 0-based, before faults (drop, dup and
 * reorder change what goes on the wire; the others change what is in a
 * datagram). A fault that needs something a datagram does not carry (crc:
 * a PAT or PMT; scramble: an audio packet; cc, legal-dup, discontinuity: a
 * video packet) lands on the next datagram that carries it; `injected()`
 * lists where every fault actually went. See FAULT_KINDS for each fault.
 * Choices the fault list leaves open:
 *   - drop and dup may not name the same datagram; reorder swaps pairs
 *     (k, k+1) that must not chain (k and k+1 both listed is refused).
 *   - legal-dup: the duplicate goes right after the original and the packets
 *     after it move down one slot; the datagram's last null packet gives way
 *     (there is always one), so the datagram keeps 7 packets and every other
 *     packet keeps its content. The copy is byte for byte except a PCR, which
 *     is re-stamped for the copy's own position (ISO/IEC 13818-1 wants a valid
 *     PCR in a duplicate; a stale one would be a PCR accuracy error).
 *   - discontinuity: the first video packet of k gets an adaptation field with
 *     discontinuity_indicator and a PCR of the new time base (60 s ahead;
 *     every PTS after it too), and its CC jumps by 8.
 *   - ssrc (a sender restart) draws the new SSRC, sequence start and timestamp
 *     start from `seed`, deterministically.
 */

// ---- fixed parameters --------------------------------------------------------

export type SignalMode = "rtp" | "rtp+ts" | "ts";
export const SIGNAL_MODES: readonly SignalMode[] = ["rtp", "rtp+ts", "ts"];

/** The signal's fixed parameters. */
export const SIGNAL = {
  TS_PACKET: 188,
  /** 188 + 16 bytes of (zero) Reed-Solomon parity, `tsSize: 204`. */
  TS_PACKET_204: 204,
  TS_PACKETS_PER_DATAGRAM: 7,
  VIDEO_PACKETS_PER_DATAGRAM: 4,
  PID_PAT: 0x0000,
  PID_CAT: 0x0001,
  PID_PMT: 0x0100,
  PID_VIDEO: 0x0101,
  PID_AUDIO: 0x0102,
  PID_NULL: 0x1fff,
  PCR_PID: 0x0101,
  PROGRAM_NUMBER: 1,
  TRANSPORT_STREAM_ID: 1,
  STREAM_TYPE_VIDEO: 0x1b,
  STREAM_TYPE_AUDIO: 0x0f,
  /** Periods and phases of the periodic events, ms. The PCR goes with the video frame. */
  PAT_PERIOD_MS: 100,
  PAT_PHASE_MS: 0,
  PMT_PERIOD_MS: 100,
  PMT_PHASE_MS: 50,
  CAT_PERIOD_MS: 500,
  CAT_PHASE_MS: 25,
  PCR_PERIOD_MS: 40,
  VIDEO_FRAME_MS: 40,
  AUDIO_FRAME_MS: 24,
  /** PTS = the event's nominal time + this, 90 kHz ticks (100 ms). */
  PTS_OFFSET_90K: 9000,
  /** Audio PES: one packet, PES_packet_length 178 (3 flag bytes + 5 PTS + 170 data). */
  AUDIO_PES_LENGTH: 178,
  /** A legal discontinuity (fault `discontinuity`): the clock jumps by 60 s, the video CC by 8. */
  DISCONTINUITY_CLOCK_JUMP_27M: 60 * 27_000_000,
  DISCONTINUITY_CC_JUMP: 8,
  DEFAULT_BITRATE: 10_000_000,
  /** Below 500 kb/s a datagram would span more than one audio frame (see the module comment). */
  MIN_BITRATE: 500_000,
  MAX_BITRATE: 1_000_000_000,
  RTP_HEADER: 12,
  RTP_EXTENSION: 8,
  RTP_PT_MP2T: 33,
  RTP_PT_DYNAMIC: 96,
  /** The clocks wrap: PCR at 2^33 * 300 (27 MHz), PTS at 2^33, RTP timestamps at 2^32. */
  PCR_WRAP: 2 ** 33 * 300,
  PTS_WRAP: 2 ** 33,
} as const;

const BITS_PER_DATAGRAM = SIGNAL.TS_PACKETS_PER_DATAGRAM * SIGNAL.TS_PACKET * 8; // 10528

/** Datagrams per second of a TS signal of `bitrate` bits per second (188-byte packets). */
export function tsDatagramRate(bitrate: number): number {
  return bitrate / BITS_PER_DATAGRAM;
}

// ---- CRC-32/MPEG-2 -----------------------------------------------------------

/** CRC table of the MPEG-2 CRC-32: polynomial 0x04C11DB7, MSB first (no reflection). */
const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 24;
    for (let bit = 0; bit < 8; bit++) c = c & 0x80000000 ? (c << 1) ^ 0x04c11db7 : c << 1;
    table[i] = c >>> 0;
  }
  return table;
})();

/**
 * CRC-32/MPEG-2 of bytes[start, end): initial value 0xFFFFFFFF, no reflection,
 * no final xor. Over a whole PSI section including its CRC field it gives 0.
 */
export function crc32Mpeg2(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let crc = 0xffffffff;
  for (let i = start; i < end; i++) crc = (crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ bytes[i]) & 0xff];
  return crc >>> 0;
}

// ---- faults --------------------------------------------------------------------

/** An inclusive range of datagram indices. */
export type IndexRange = readonly [number, number];

/** The faults that take a LIST of indices and ranges ("3,5,10..20"). */
export type ListFaultKind =
  | "drop"
  | "dup"
  | "reorder"
  | "sync"
  | "cc"
  | "tei"
  | "crc"
  | "no-pat"
  | "no-pmt"
  | "pcr-gap"
  | "scramble"
  | "discontinuity"
  | "legal-dup";

export type Fault =
  | { kind: ListFaultKind; at: IndexRange[] }
  | { kind: "stop-pid"; pid: number; at: IndexRange[] }
  | { kind: "ssrc"; at: number }
  | { kind: "seq-jump"; at: number; by: number };

export type FaultKind = Fault["kind"];

/** Every fault, its argument and what it does (also the text of `mcr gen --help`). */
export const FAULT_KINDS: Record<FaultKind, string> = {
  drop: "drop=LIST       those datagrams are not sent",
  dup: "dup=LIST        those datagrams are sent twice, back to back",
  reorder: "reorder=LIST    datagram k is sent after datagram k+1",
  sync: "sync=LIST       sync byte 0x46 in the first TS packet of datagram k",
  cc: "cc=LIST         the video CC skips one value at the first video packet of k",
  tei: "tei=LIST        transport_error_indicator on the first TS packet of k",
  crc: "crc=LIST        a wrong CRC in the first PAT/PMT at or after datagram k",
  "no-pat": "no-pat=A..B     no PAT in those datagrams (null packets instead)",
  "no-pmt": "no-pmt=A..B     no PMT in those datagrams (null packets instead)",
  "stop-pid": "stop-pid=PID@A..B  packets of PID become null packets in those datagrams",
  "pcr-gap": "pcr-gap=A..B    no PCR written in those datagrams",
  scramble: "scramble=LIST   scrambling control 10 on the first audio packet at or after k",
  ssrc: "ssrc=K          from datagram K on a new SSRC and sequence start (restart)",
  "seq-jump": "seq-jump=K:N    from datagram K on, RTP sequence numbers jump by N",
  discontinuity: "discontinuity=LIST  legal video discontinuity: indicator, CC and PCR jump",
  "legal-dup": "legal-dup=LIST  the first video packet of k sent twice (legal TS duplicate)",
};

/** Faults that need TS content, and faults that need RTP. */
const TS_FAULTS: ReadonlySet<FaultKind> = new Set<FaultKind>([
  "sync",
  "cc",
  "tei",
  "crc",
  "no-pat",
  "no-pmt",
  "stop-pid",
  "pcr-gap",
  "scramble",
  "discontinuity",
  "legal-dup",
]);
const RTP_FAULTS: ReadonlySet<FaultKind> = new Set<FaultKind>(["ssrc", "seq-jump"]);

function parseIndex(text: string, what: string): number {
  if (!/^\d{1,15}$/.test(text)) throw new Error(`${what}: "${text}" is not a datagram index`);
  return Number(text);
}

/** "3,5,10..20" -> [[3,3],[5,5],[10,20]]. */
export function parseIndexList(text: string, what: string): IndexRange[] {
  if (text === "") throw new Error(`${what}: no datagram indices`);
  return text.split(",").map((item): IndexRange => {
    const dots = item.indexOf("..");
    if (dots < 0) {
      const k = parseIndex(item, what);
      return [k, k];
    }
    const a = parseIndex(item.slice(0, dots), what);
    const b = parseIndex(item.slice(dots + 2), what);
    if (b < a) throw new Error(`${what}: range ${item} is backwards`);
    return [a, b];
  });
}

/** Parses one `--fault` SPEC ("drop=3,5", "stop-pid=0x101@10..20", "seq-jump=100:-5"). */
export function parseFault(spec: string): Fault {
  const eq = spec.indexOf("=");
  const kind = (eq < 0 ? spec : spec.slice(0, eq)) as FaultKind;
  if (!Object.hasOwn(FAULT_KINDS, kind)) {
    throw new Error(`unknown fault "${kind}" (one of ${Object.keys(FAULT_KINDS).join(", ")})`);
  }
  if (eq < 0) throw new Error(`${kind}: needs a value (${FAULT_KINDS[kind].split(" ")[0]})`);
  const value = spec.slice(eq + 1);
  switch (kind) {
    case "stop-pid": {
      const at = value.indexOf("@");
      if (at < 0) throw new Error(`stop-pid: expected PID@A..B, got "${value}"`);
      const pidText = value.slice(0, at);
      const pid = /^0x[0-9a-f]{1,4}$/i.test(pidText)
        ? parseInt(pidText.slice(2), 16)
        : /^\d{1,4}$/.test(pidText)
        ? Number(pidText)
        : NaN;
      if (!(pid >= 0 && pid <= 0x1fff)) {
        throw new Error(`stop-pid: "${pidText}" is not a PID (0..8191 or 0x0..0x1fff)`);
      }
      return { kind, pid, at: parseIndexList(value.slice(at + 1), kind) };
    }
    case "ssrc":
      return { kind, at: parseIndex(value, kind) };
    case "seq-jump": {
      const m = /^(\d{1,15}):([+-]?\d{1,5})$/.exec(value);
      if (!m) throw new Error(`seq-jump: expected K:N, got "${value}"`);
      const by = Number(m[2]);
      if (by === 0 || Math.abs(by) > 65535) {
        throw new Error(`seq-jump: N must be a non-zero integer in -65535..65535`);
      }
      return { kind, at: Number(m[1]), by };
    }
    default:
      return { kind, at: parseIndexList(value, kind) };
  }
}

/**
 * A set of datagram indices kept as sorted, merged ranges: membership and
 * "how many below k" by binary search, without allocating.
 */
export class IndexSet {
  readonly #start: number[] = [];
  readonly #end: number[] = [];
  /** Members in the ranges before range i. */
  readonly #before: number[] = [];

  constructor(ranges: readonly IndexRange[]) {
    const sorted = [...ranges].sort((x, y) => x[0] - y[0]);
    for (const [a, b] of sorted) {
      const last = this.#end.length - 1;
      if (last >= 0 && a <= this.#end[last] + 1) {
        this.#end[last] = Math.max(this.#end[last], b);
      } else {
        this.#start.push(a);
        this.#end.push(b);
      }
    }
    let n = 0;
    for (let i = 0; i < this.#start.length; i++) {
      this.#before.push(n);
      n += this.#end[i] - this.#start[i] + 1;
    }
  }

  get size(): number {
    const last = this.#start.length - 1;
    return last < 0 ? 0 : this.#before[last] + this.#end[last] - this.#start[last] + 1;
  }

  get rangeCount(): number {
    return this.#start.length;
  }

  rangeStart(i: number): number {
    return this.#start[i];
  }

  rangeEnd(i: number): number {
    return this.#end[i];
  }

  /** Index of the last range starting at or before k, or -1. */
  #find(k: number): number {
    let lo = 0;
    let hi = this.#start.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.#start[mid] <= k) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }

  has(k: number): boolean {
    const i = this.#find(k);
    return i >= 0 && k <= this.#end[i];
  }

  /** How many members are < k. */
  countBelow(k: number): number {
    const i = this.#find(k - 1);
    if (i < 0) return 0;
    return this.#before[i] + Math.min(k - 1, this.#end[i]) - this.#start[i] + 1;
  }

  /** The members, in order (allocates: for reports and tests). */
  toArray(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.#start.length; i++) {
      for (let k = this.#start[i]; k <= this.#end[i]; k++) out.push(k);
    }
    return out;
  }
}

/** Where the faults went (datagram indices, before faults), for `mcr gen --json` and tests. */
export interface SignalInjected {
  drop?: number[];
  dup?: number[];
  /** k: datagram k went out after datagram k+1. */
  reorder?: number[];
  sync?: number[];
  cc?: number[];
  tei?: number[];
  /** The datagrams whose PAT or PMT carries the wrong CRC. */
  crc?: number[];
  no_pat?: number[];
  no_pmt?: number[];
  stop_pid?: { pid: number; datagrams: number[] }[];
  pcr_gap?: number[];
  /** The datagrams whose audio packet is marked scrambled. */
  scramble?: number[];
  ssrc?: { from: number; ssrc: number; seq: number; timestamp: number }[];
  seq_jump?: { from: number; by: number }[];
  discontinuity?: number[];
  legal_dup?: number[];
}

// ---- options -------------------------------------------------------------------

export interface SignalOptions {
  mode: SignalMode;
  /** Datagrams before faults (the indices of faults are below it). */
  count: number;
  /** TS modes: bits per second of 188-byte packets (default 10 Mb/s). */
  bitrate?: number;
  /** TS modes: 188 (default) or 204. */
  tsSize?: 188 | 204;
  /** TS modes: a CAT on PID 1 every 500 ms. */
  cat?: boolean;
  /** rtp mode: datagrams per second (ts modes derive it from the bitrate). */
  rate?: number;
  /** rtp mode: bytes per datagram, RTP header included. */
  size?: number;
  /** RTP sequence number of datagram 0 (default 0). */
  rtpSeq?: number;
  /** RTP timestamp of datagram 0 (default 0). */
  rtpTimestamp?: number;
  /** RTP SSRC (default 0x4d435253, "MCRS"). */
  ssrc?: number;
  rtpExtension?: boolean;
  /** The 27 MHz clock at datagram 0, a multiple of 300 below SIGNAL.PCR_WRAP (default 0). */
  clockStart?: number;
  /** Seeds the values a `ssrc` fault (sender restart) draws. */
  seed?: number;
  faults?: readonly Fault[];
}

/** A 32-bit mix (splitmix-like) for the values a restart draws, deterministically. */
function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

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

// ---- the signal --------------------------------------------------------------

export class TestSignal {
  readonly mode: SignalMode;
  readonly count: number;
  /** Bytes per datagram. */
  readonly datagramSize: number;
  /** Datagrams per second (the nominal send time of datagram k is k / datagramRate). */
  readonly datagramRate: number;
  /** TS packets per datagram (0 in rtp mode) and their size. */
  readonly tsPacketsPerDatagram: number;
  readonly tsPacketSize: number;
  readonly bitrate: number;
  readonly ssrc: number;
  readonly rtpSeq: number;
  readonly rtpTimestamp: number;

  /** RTP payload type (33 for rtp+ts, 96 for rtp). */
  readonly payloadType: number;

  readonly #ts: boolean;
  readonly #rtpBytes: number;
  readonly #extension: boolean;
  readonly #clockStart: number;
  /** 27 MHz ticks per TS packet, and from a packet's start to its PCR base byte (byte 10). */
  readonly #ticksPerPacket: number;
  readonly #pcrByteTicks: number;
  /** 90 kHz RTP ticks per datagram. */
  readonly #rtpTicksPerDatagram: number;

  // The periodic events (null without TS content).
  readonly #pat: Periodic | null = null;
  readonly #pmt: Periodic | null = null;
  readonly #cat: Periodic | null = null;
  readonly #video: Periodic | null = null;
  readonly #audio: Periodic | null = null;

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
  readonly #rtpFiller: Uint8Array;

  // Faults, as index sets (the point faults already moved to where they land).
  readonly #drop: IndexSet;
  readonly #dup: IndexSet;
  readonly #reorder: IndexSet;
  readonly #sync: IndexSet;
  readonly #tei: IndexSet;
  readonly #cc: IndexSet;
  readonly #crc: IndexSet;
  readonly #pcrGap: IndexSet;
  readonly #scramble: IndexSet;
  readonly #discontinuity: IndexSet;
  readonly #legalDup: IndexSet;
  readonly #noPat: IndexSet;
  readonly #noPmt: IndexSet;
  /** Datagrams without each PID of the program (no-pat / no-pmt / stop-pid together). */
  readonly #offPat: IndexSet;
  readonly #offPmt: IndexSet;
  readonly #offCat: IndexSet;
  readonly #offVideo: IndexSet;
  readonly #offAudio: IndexSet;
  readonly #stopPid: { pid: number; set: IndexSet }[] = [];
  /** RTP segments (a restart starts one) and sequence jumps, in datagram order. */
  readonly #segFrom: number[] = [0];
  readonly #segSsrc: number[];
  readonly #segSeq: number[];
  readonly #segTimestamp: number[];
  readonly #jumpFrom: number[] = [];
  readonly #jumpBy: number[] = [];

  constructor(o: SignalOptions) {
    if (!SIGNAL_MODES.includes(o.mode)) throw new Error(`unknown signal mode "${o.mode}"`);
    if (!(Number.isInteger(o.count) && o.count >= 1)) {
      throw new Error(`count must be a positive integer`);
    }
    this.mode = o.mode;
    this.count = o.count;
    this.#ts = o.mode !== "rtp";
    const rtp = o.mode !== "ts";
    this.bitrate = o.bitrate ?? SIGNAL.DEFAULT_BITRATE;
    const S = o.tsSize ?? SIGNAL.TS_PACKET;
    if (S !== 188 && S !== 204) throw new Error(`TS packet size must be 188 or 204`);
    this.tsPacketSize = this.#ts ? S : 0;
    this.tsPacketsPerDatagram = this.#ts ? SIGNAL.TS_PACKETS_PER_DATAGRAM : 0;
    if (!rtp && (o.rtpExtension || o.rtpSeq !== undefined || o.ssrc !== undefined)) {
      throw new Error(`RTP options need an RTP signal (rtp or rtp+ts)`);
    }
    if (!this.#ts && (o.bitrate !== undefined || o.tsSize !== undefined || o.cat)) {
      throw new Error(`TS options (bitrate, TS packet size, CAT) need a TS signal (ts or rtp+ts)`);
    }
    this.#extension = rtp && (o.rtpExtension ?? false);
    this.#rtpBytes = rtp ? SIGNAL.RTP_HEADER + (this.#extension ? SIGNAL.RTP_EXTENSION : 0) : 0;
    this.payloadType = o.mode === "rtp+ts" ? SIGNAL.RTP_PT_MP2T : SIGNAL.RTP_PT_DYNAMIC;
    this.ssrc = (o.ssrc ?? 0x4d435253) >>> 0;
    this.rtpSeq = (o.rtpSeq ?? 0) & 0xffff;
    this.rtpTimestamp = (o.rtpTimestamp ?? 0) >>> 0;
    this.#clockStart = o.clockStart ?? 0;
    if (
      !(Number.isInteger(this.#clockStart) && this.#clockStart >= 0 &&
        this.#clockStart < SIGNAL.PCR_WRAP && this.#clockStart % 300 === 0)
    ) {
      throw new Error(`clockStart must be a multiple of 300 in [0, 2^33 * 300)`);
    }

    if (this.#ts) {
      const b = this.bitrate;
      if (!(Number.isInteger(b) && b >= SIGNAL.MIN_BITRATE && b <= SIGNAL.MAX_BITRATE)) {
        throw new Error(
          `bitrate must be an integer from ${SIGNAL.MIN_BITRATE} to ${SIGNAL.MAX_BITRATE} bits/s`,
        );
      }
      this.datagramRate = tsDatagramRate(b);
      this.datagramSize = this.#rtpBytes + SIGNAL.TS_PACKETS_PER_DATAGRAM * S;
      this.#pat = new Periodic(SIGNAL.PAT_PERIOD_MS, SIGNAL.PAT_PHASE_MS, b);
      this.#pmt = new Periodic(SIGNAL.PMT_PERIOD_MS, SIGNAL.PMT_PHASE_MS, b);
      this.#cat = o.cat ? new Periodic(SIGNAL.CAT_PERIOD_MS, SIGNAL.CAT_PHASE_MS, b) : null;
      this.#video = new Periodic(SIGNAL.VIDEO_FRAME_MS, 0, b);
      this.#audio = new Periodic(SIGNAL.AUDIO_FRAME_MS, 0, b);
    } else {
      const rate = o.rate ?? 0;
      if (!(rate > 0)) throw new Error(`rtp mode needs a datagram rate`);
      const size = o.size ?? 0;
      if (!(Number.isInteger(size) && size >= this.#rtpBytes && size <= 65507)) {
        throw new Error(`rtp datagram size must be ${this.#rtpBytes}..65507 bytes`);
      }
      this.datagramRate = rate;
      this.datagramSize = size;
    }
    this.#ticksPerPacket = (SIGNAL.TS_PACKET * 8 * 27e6) / this.bitrate;
    this.#pcrByteTicks = (10 / S) * this.#ticksPerPacket;
    this.#rtpTicksPerDatagram = 90000 / this.datagramRate;

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
    this.#rtpFiller = new Uint8Array(this.#ts ? 0 : this.datagramSize - this.#rtpBytes);
    for (let i = 0; i < this.#rtpFiller.length; i++) this.#rtpFiller[i] = i & 0xff;

    // ---- faults ----
    const lists = new Map<FaultKind, IndexRange[]>();
    const stops = new Map<number, IndexRange[]>();
    const restarts: number[] = [];
    const jumps: { at: number; by: number }[] = [];
    for (const f of o.faults ?? []) {
      if (TS_FAULTS.has(f.kind) && !this.#ts) {
        throw new Error(`fault ${f.kind} needs a TS signal (ts or rtp+ts)`);
      }
      if (RTP_FAULTS.has(f.kind) && !rtp) {
        throw new Error(`fault ${f.kind} needs an RTP signal (rtp or rtp+ts)`);
      }
      const ranges = f.kind === "ssrc" || f.kind === "seq-jump" ? [[f.at, f.at] as const] : f.at;
      for (const [, b] of ranges) {
        if (b >= o.count) {
          throw new Error(
            `fault ${f.kind}: datagram ${b} is beyond the ${o.count} datagrams (indices start at 0)`,
          );
        }
      }
      if (f.kind === "ssrc") restarts.push(f.at);
      else if (f.kind === "seq-jump") jumps.push({ at: f.at, by: f.by });
      else if (f.kind === "stop-pid") stops.set(f.pid, [...(stops.get(f.pid) ?? []), ...f.at]);
      else lists.set(f.kind, [...(lists.get(f.kind) ?? []), ...f.at]);
    }
    const set = (kind: ListFaultKind) => new IndexSet(lists.get(kind) ?? []);
    this.#drop = set("drop");
    this.#dup = set("dup");
    this.#reorder = set("reorder");
    for (const k of this.#drop.toArray()) {
      if (this.#dup.has(k)) throw new Error(`fault drop and dup both list datagram ${k}`);
    }
    for (const k of this.#reorder.toArray()) {
      if (k + 1 >= o.count) {
        throw new Error(`fault reorder=${k}: there is no datagram ${k + 1} to swap with`);
      }
      if (this.#reorder.has(k + 1)) {
        throw new Error(`fault reorder: ${k} and ${k + 1} overlap (swaps must not chain)`);
      }
    }
    this.#sync = set("sync");
    this.#tei = set("tei");
    this.#pcrGap = set("pcr-gap");
    this.#noPat = set("no-pat");
    this.#noPmt = set("no-pmt");
    for (const [pid, ranges] of stops) this.#stopPid.push({ pid, set: new IndexSet(ranges) });
    this.#stopPid.sort((x, y) => x.pid - y.pid);
    const off = (pid: number, more: IndexRange[]) =>
      new IndexSet([...more, ...(stops.get(pid) ?? [])]);
    this.#offPat = off(SIGNAL.PID_PAT, lists.get("no-pat") ?? []);
    this.#offPmt = off(SIGNAL.PID_PMT, lists.get("no-pmt") ?? []);
    this.#offCat = off(SIGNAL.PID_CAT, []);
    this.#offVideo = off(SIGNAL.PID_VIDEO, []);
    this.#offAudio = off(SIGNAL.PID_AUDIO, []);
    // Point faults land on the first datagram at or after k that carries what they change.
    const land = (kind: ListFaultKind, carries: (k: number) => boolean) => {
      const at: IndexRange[] = [];
      for (const k of set(kind).toArray()) {
        let j = k;
        while (j < o.count && !carries(j)) j++;
        if (j < o.count) at.push([j, j]);
      }
      return new IndexSet(at);
    };
    const hasVideo = (k: number) => !this.#offVideo.has(k);
    this.#cc = land("cc", hasVideo);
    this.#legalDup = land("legal-dup", hasVideo);
    this.#discontinuity = land("discontinuity", hasVideo);
    this.#scramble = land("scramble", (k) => this.#audio!.at(k) >= 0 && !this.#offAudio.has(k));
    this.#crc = land("crc", (k) =>
      (this.#pat!.at(k) >= 0 && !this.#offPat.has(k)) ||
      (this.#pmt!.at(k) >= 0 && !this.#offPmt.has(k)));

    // RTP segments: each restart draws a new SSRC, sequence start and timestamp start.
    this.#segSsrc = [this.ssrc];
    this.#segSeq = [this.rtpSeq];
    this.#segTimestamp = [this.rtpTimestamp];
    for (const at of [...new Set(restarts)].sort((x, y) => x - y)) {
      const r = mix32((o.seed ?? 0) ^ Math.imul(at + 1, 0x9e3779b1));
      let ssrc = mix32(r ^ 0x5a5a5a5a);
      if (ssrc === this.#segSsrc[this.#segSsrc.length - 1]) ssrc = (ssrc + 1) >>> 0;
      this.#segFrom.push(at);
      this.#segSsrc.push(ssrc);
      this.#segSeq.push(r & 0xffff);
      this.#segTimestamp.push(mix32(r ^ 0x3c3c3c3c));
    }
    jumps.sort((x, y) => x.at - y.at);
    for (const j of jumps) {
      this.#jumpFrom.push(j.at);
      this.#jumpBy.push(j.by);
    }
  }

  // ---- send order ----

  /** Datagram k is not sent (fault drop). */
  dropped(k: number): boolean {
    return this.#drop.has(k);
  }

  /** Datagram k is sent twice, back to back (fault dup). */
  duplicated(k: number): boolean {
    return this.#dup.has(k);
  }

  /** Datagram k goes out after datagram k+1 (fault reorder). */
  swappedWithNext(k: number): boolean {
    return this.#reorder.has(k);
  }

  /** Datagrams sent, after faults. */
  get sentCount(): number {
    return this.count - this.#drop.size + this.#dup.size;
  }

  /**
   * The datagram indices in the order they go out (allocates: for tests and
   * small runs; a sender walks k with the three predicates above instead).
   */
  sendOrder(): number[] {
    const order: number[] = [];
    const emit = (k: number) => {
      if (this.dropped(k)) return;
      order.push(k);
      if (this.duplicated(k)) order.push(k);
    };
    for (let k = 0; k < this.count; k++) {
      if (this.swappedWithNext(k)) {
        emit(k + 1);
        emit(k);
        k++;
      } else {
        emit(k);
      }
    }
    return order;
  }

  // ---- building ----

  /**
   * Writes datagram k (0 <= k < count, before faults) at out[offset..] and
   * returns its length (datagramSize). Allocates nothing.
   */
  build(k: number, out: Uint8Array, offset: number): number {
    let p = offset;
    if (this.#rtpBytes > 0) p = this.#writeRtp(k, out, p);
    if (this.#ts) this.#writeTs(k, out, p);
    else out.set(this.#rtpFiller, p);
    return this.datagramSize;
  }

  #writeRtp(k: number, out: Uint8Array, p: number): number {
    let seg = this.#segFrom.length - 1;
    while (this.#segFrom[seg] > k) seg--;
    const from = this.#segFrom[seg];
    let seq = this.#segSeq[seg] + (k - from);
    for (let i = 0; i < this.#jumpFrom.length && this.#jumpFrom[i] <= k; i++) {
      if (this.#jumpFrom[i] >= from) seq += this.#jumpBy[i];
    }
    seq = ((seq % 65536) + 65536) % 65536;
    const ts = (this.#segTimestamp[seg] + Math.floor(k * this.#rtpTicksPerDatagram)) % 4294967296;
    const ssrc = this.#segSsrc[seg];
    out[p] = this.#extension ? 0x90 : 0x80; // V=2, P=0, X, CC=0
    out[p + 1] = this.payloadType; // M=0
    out[p + 2] = seq >>> 8;
    out[p + 3] = seq & 0xff;
    out[p + 4] = ts >>> 24;
    out[p + 5] = (ts >>> 16) & 0xff;
    out[p + 6] = (ts >>> 8) & 0xff;
    out[p + 7] = ts & 0xff;
    out[p + 8] = ssrc >>> 24;
    out[p + 9] = (ssrc >>> 16) & 0xff;
    out[p + 10] = (ssrc >>> 8) & 0xff;
    out[p + 11] = ssrc & 0xff;
    if (!this.#extension) return p + 12;
    out[p + 12] = 0xbe; // profile 0xBEDE: RFC 8285 one-byte elements
    out[p + 13] = 0xde;
    out[p + 14] = 0x00; // length: 1 word follows
    out[p + 15] = 0x01;
    out[p + 16] = 0x12; // element ID 1, 3 bytes: the datagram index
    out[p + 17] = (k >>> 16) & 0xff;
    out[p + 18] = (k >>> 8) & 0xff;
    out[p + 19] = k & 0xff;
    return p + 20;
  }

  #writeTs(k: number, out: Uint8Array, base: number): void {
    const S = this.tsPacketSize;
    const firstPacket = k * SIGNAL.TS_PACKETS_PER_DATAGRAM; // global packet index of slot 0
    const jumps = this.#discontinuity.countBelow(k + 1);
    const clock = (this.#clockStart + jumps * SIGNAL.DISCONTINUITY_CLOCK_JUMP_27M) %
      SIGNAL.PCR_WRAP;
    const clock90 = clock / 300; // exact: clockStart and the jump are multiples of 300
    let slot = 0;

    // 1. At most one table (their events are >= 25 ms apart, a datagram < 21.1 ms).
    const pat = this.#pat!.at(k);
    const pmt = this.#pmt!.at(k);
    const cat = this.#cat === null ? -1 : this.#cat.at(k);
    if (pat >= 0) {
      if (this.#offPat.has(k)) {
        out.set(this.#nullPacket, base);
      } else {
        out.set(this.#crc.has(k) ? this.#patBadCrc : this.#patPacket, base);
        out[base + 3] |= (pat - this.#pat!.countIn(this.#offPat, k)) & 15;
      }
      slot++;
    } else if (pmt >= 0) {
      if (this.#offPmt.has(k)) {
        out.set(this.#nullPacket, base);
      } else {
        out.set(this.#crc.has(k) ? this.#pmtBadCrc : this.#pmtPacket, base);
        out[base + 3] |= (pmt - this.#pmt!.countIn(this.#offPmt, k)) & 15;
      }
      slot++;
    } else if (cat >= 0) {
      if (this.#offCat.has(k)) {
        out.set(this.#nullPacket, base);
      } else {
        out.set(this.#catPacket, base);
        out[base + 3] |= (cat - this.#cat!.countIn(this.#offCat, k)) & 15;
      }
      slot++;
    }

    // 2. Four video packets; the first starts the frame's PES when a frame starts here.
    if (this.#offVideo.has(k)) {
      for (let i = 0; i < SIGNAL.VIDEO_PACKETS_PER_DATAGRAM; i++) {
        out.set(this.#nullPacket, base + slot * S);
        slot++;
      }
    } else {
      // Video packets sent before this datagram, plus the CC skips and jumps so far.
      let cc = SIGNAL.VIDEO_PACKETS_PER_DATAGRAM * (k - this.#offVideo.countBelow(k)) +
        this.#cc.countBelow(k + 1) +
        SIGNAL.DISCONTINUITY_CC_JUMP * jumps;
      const frame = this.#video!.at(k);
      const discontinuity = this.#discontinuity.has(k);
      const pcr = (frame >= 0 || discontinuity) && !this.#pcrGap.has(k);
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
          if (frame >= 0) {
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
        }
        // The frame's filler NAL unit ends in its last packet: rbsp_trailing_bits.
        if (i === SIGNAL.VIDEO_PACKETS_PER_DATAGRAM - 1 && this.#video!.at(k + 1) >= 0) {
          out[p + SIGNAL.TS_PACKET - 1] = 0x80;
        }
        out[p + 3] |= cc & 15;
        cc++;
        slot++;
        if (i === 0 && this.#legalDup.has(k)) {
          // A legal duplicate: the same packet again (same CC), right after it. Byte for
          // byte but for the PCR, which ISO/IEC 13818-1 wants valid for where it is.
          out.copyWithin(p + S, p, p + S);
          if (pcr) this.#writePcr(out, p + S, clock, firstPacket + slot);
          slot++;
        }
      }
    }

    // 3. The audio packet of a frame starting here: the whole PES.
    const audio = this.#audio!.at(k);
    if (audio >= 0) {
      const p = base + slot * S;
      if (this.#offAudio.has(k)) {
        out.set(this.#nullPacket, p);
      } else {
        out.set(this.#audioPacket, p);
        out[p + 3] |= (audio - this.#audio!.countIn(this.#offAudio, k)) & 15;
        if (this.#scramble.has(k)) out[p + 3] |= 0x80; // transport_scrambling_control 10
        writePts(
          out,
          p + 13,
          (clock90 + audio * 2160 + SIGNAL.PTS_OFFSET_90K) % SIGNAL.PTS_WRAP,
        );
      }
      slot++;
    }

    // 4. Null packets up to 7. There is always at least one (1 + 4 + 1 = 6 packets
    // above) and a legal duplicate takes the place of one: 1 + 4 + 1 + 1 = 7, so
    // the datagram never grows.
    while (slot < SIGNAL.TS_PACKETS_PER_DATAGRAM) {
      out.set(this.#nullPacket, base + slot * S);
      slot++;
    }

    // 5. Damage to the first packet, whatever it is.
    if (this.#sync.has(k)) out[base] = 0x46;
    if (this.#tei.has(k)) out[base + 1] |= 0x80;
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
    const bytes = new Uint8Array(this.tsPacketSize || SIGNAL.TS_PACKET);
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

  // ---- reports ----

  /** Where the faults went (expanded lists; allocates). */
  injected(): SignalInjected {
    const r: SignalInjected = {};
    const put = (key: keyof SignalInjected, set: IndexSet) => {
      if (set.size > 0) (r as Record<string, unknown>)[key] = set.toArray();
    };
    put("drop", this.#drop);
    put("dup", this.#dup);
    put("reorder", this.#reorder);
    put("sync", this.#sync);
    put("cc", this.#cc);
    put("tei", this.#tei);
    put("crc", this.#crc);
    put("no_pat", this.#noPat);
    put("no_pmt", this.#noPmt);
    if (this.#stopPid.length > 0) {
      r.stop_pid = this.#stopPid.map((s) => ({ pid: s.pid, datagrams: s.set.toArray() }));
    }
    put("pcr_gap", this.#pcrGap);
    put("scramble", this.#scramble);
    if (this.#segFrom.length > 1) {
      r.ssrc = this.#segFrom.slice(1).map((from, i) => ({
        from,
        ssrc: this.#segSsrc[i + 1],
        seq: this.#segSeq[i + 1],
        timestamp: this.#segTimestamp[i + 1],
      }));
    }
    if (this.#jumpFrom.length > 0) {
      r.seq_jump = this.#jumpFrom.map((from, i) => ({ from, by: this.#jumpBy[i] }));
    }
    put("discontinuity", this.#discontinuity);
    put("legal_dup", this.#legalDup);
    return r;
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

// ---- PSI sections ----------------------------------------------------------------

/**
 * A long-form section: table_id, section_length, the 5 bytes of the extended
 * header (id, version 0, current_next 1, section 0 of 0), `body`, CRC32.
 */
function section(tableId: number, id: number, body: number[]): Uint8Array {
  const length = 5 + body.length + 4; // after the section_length field
  const bytes = new Uint8Array(3 + length);
  bytes[0] = tableId;
  bytes[1] = 0xb0 | (length >> 8); // section_syntax_indicator 1, '0', reserved '11'
  bytes[2] = length & 0xff;
  bytes[3] = id >> 8;
  bytes[4] = id & 0xff;
  bytes[5] = 0xc1; // reserved '11', version_number 0, current_next_indicator 1
  bytes[6] = 0x00; // section_number
  bytes[7] = 0x00; // last_section_number
  bytes.set(body, 8);
  const crc = crc32Mpeg2(bytes, 0, bytes.length - 4);
  bytes[bytes.length - 4] = crc >>> 24;
  bytes[bytes.length - 3] = (crc >>> 16) & 0xff;
  bytes[bytes.length - 2] = (crc >>> 8) & 0xff;
  bytes[bytes.length - 1] = crc & 0xff;
  return bytes;
}

/** PAT: program 1 -> PMT on 0x100. */
export function patSection(): Uint8Array {
  const pmt = SIGNAL.PID_PMT;
  return section(0x00, SIGNAL.TRANSPORT_STREAM_ID, [
    SIGNAL.PROGRAM_NUMBER >> 8,
    SIGNAL.PROGRAM_NUMBER & 0xff,
    0xe0 | (pmt >> 8), // reserved '111', program_map_PID
    pmt & 0xff,
  ]);
}

/** PMT of program 1: PCR on 0x101, video 0x101 (0x1b), audio 0x102 (0x0f), no descriptors. */
export function pmtSection(): Uint8Array {
  const es = (type: number, pid: number) => [type, 0xe0 | (pid >> 8), pid & 0xff, 0xf0, 0x00];
  return section(0x02, SIGNAL.PROGRAM_NUMBER, [
    0xe0 | (SIGNAL.PCR_PID >> 8), // reserved '111', PCR_PID
    SIGNAL.PCR_PID & 0xff,
    0xf0, // reserved '1111', program_info_length 0
    0x00,
    ...es(SIGNAL.STREAM_TYPE_VIDEO, SIGNAL.PID_VIDEO),
    ...es(SIGNAL.STREAM_TYPE_AUDIO, SIGNAL.PID_AUDIO),
  ]);
}

/** CAT without descriptors (its 16-bit id field is reserved: all ones). */
export function catSection(): Uint8Array {
  return section(0x01, 0xffff, []);
}

// ---- the video elementary stream ---------------------------------------------------

/**
 * Bits for the H.264 headers, MSB first, with Exp-Golomb codes (setup only).
 */
class BitWriter {
  readonly bytes: number[] = [];
  #byte = 0;
  #bits = 0;
  u(value: number, bits: number): this {
    for (let i = bits - 1; i >= 0; i--) {
      this.#byte = (this.#byte << 1) | ((value >>> i) & 1);
      if (++this.#bits === 8) {
        this.bytes.push(this.#byte);
        this.#byte = 0;
        this.#bits = 0;
      }
    }
    return this;
  }
  /** ue(v): codeNum v as (leading zeros, 1, info bits). */
  ue(value: number): this {
    const x = value + 1;
    const length = 31 - Math.clz32(x);
    return this.u(0, length).u(x, length + 1);
  }
  /** se(v): 0, 1, -1, 2, -2 ... as codeNum 0, 1, 2, 3, 4 ... */
  se(value: number): this {
    return this.ue(value > 0 ? 2 * value - 1 : -2 * value);
  }
  /** rbsp_trailing_bits: a stop bit, then zeros to the byte boundary. */
  trailing(): number[] {
    return this.u(1, 1).align();
  }
  /** Zeros to the byte boundary. */
  align(): number[] {
    while (this.#bits !== 0) this.u(0, 1);
    return this.bytes;
  }
}

/** A NAL unit: start code, header byte, the RBSP with emulation prevention bytes. */
function nalUnit(startCodeZeros: number, header: number, rbsp: number[]): number[] {
  const out = [...new Array(startCodeZeros).fill(0), 0x01, header];
  let zeros = 0;
  for (const b of rbsp) {
    if (zeros >= 2 && b <= 3) {
      out.push(0x03);
      zeros = 0;
    }
    out.push(b);
    zeros = b === 0 ? zeros + 1 : 0;
  }
  return out;
}

/**
 * One video frame: a 16x16 picture, grey, coded as an IDR picture that any
 * decoder can start from (every frame is one). Byte stream (Annex B):
 *
 *   access unit delimiter (primary_pic_type 0: I)
 *   SPS: Baseline profile, level 4.0, 1x1 macroblocks, POC type 2, one reference frame
 *   PPS: CAVLC, no slice groups, QP 26
 *   IDR slice: one I slice of one macroblock, I_16x16 DC prediction, no residual
 *   the header of a filler data NAL unit (type 12), whose 0xFF bytes fill the
 *   frame's PES up to the next frame; the frame's last video packet ends it
 *   with 0x80 (rbsp_trailing_bits)
 *
 * Consecutive IDR pictures must differ in idr_pic_id: frames alternate 0 and 1.
 */
export function h264AccessUnit(idrPicId: 0 | 1): Uint8Array {
  const aud = new BitWriter().u(0, 3).trailing();
  const sps = new BitWriter()
    .u(66, 8) // profile_idc: Baseline
    .u(0xc0, 8) // constraint_set0_flag, constraint_set1_flag
    .u(40, 8) // level_idc 4.0
    .ue(0) // seq_parameter_set_id
    .ue(0) // log2_max_frame_num_minus4
    .ue(2) // pic_order_cnt_type
    .ue(1) // max_num_ref_frames
    .u(0, 1) // gaps_in_frame_num_value_allowed_flag
    .ue(0) // pic_width_in_mbs_minus1
    .ue(0) // pic_height_in_map_units_minus1
    .u(1, 1) // frame_mbs_only_flag
    .u(1, 1) // direct_8x8_inference_flag
    .u(0, 1) // frame_cropping_flag
    .u(0, 1) // vui_parameters_present_flag
    .trailing();
  const pps = new BitWriter()
    .ue(0) // pic_parameter_set_id
    .ue(0) // seq_parameter_set_id
    .u(0, 1) // entropy_coding_mode_flag: CAVLC
    .u(0, 1) // bottom_field_pic_order_in_frame_present_flag
    .ue(0) // num_slice_groups_minus1
    .ue(0) // num_ref_idx_l0_default_active_minus1
    .ue(0) // num_ref_idx_l1_default_active_minus1
    .u(0, 1) // weighted_pred_flag
    .u(0, 2) // weighted_bipred_idc
    .se(0) // pic_init_qp_minus26
    .se(0) // pic_init_qs_minus26
    .se(0) // chroma_qp_index_offset
    .u(0, 1) // deblocking_filter_control_present_flag
    .u(0, 1) // constrained_intra_pred_flag
    .u(0, 1) // redundant_pic_cnt_present_flag
    .trailing();
  const slice = new BitWriter()
    .ue(0) // first_mb_in_slice
    .ue(7) // slice_type: I (all slices of the picture)
    .ue(0) // pic_parameter_set_id
    .u(0, 4) // frame_num (log2_max_frame_num = 4)
    .ue(idrPicId) // idr_pic_id
    .u(0, 1) // dec_ref_pic_marking: no_output_of_prior_pics_flag
    .u(0, 1) // long_term_reference_flag
    .se(0) // slice_qp_delta
    // slice_data: the one macroblock
    .ue(3) // mb_type I_16x16_2_0_0: DC prediction, no coded luma AC or chroma
    .ue(0) // intra_chroma_pred_mode: DC
    .se(0) // mb_qp_delta
    .u(1, 1) // Intra16x16DCLevel coeff_token (nC 0): TotalCoeff 0, TrailingOnes 0
    .trailing();
  return new Uint8Array([
    ...nalUnit(3, 0x09, aud), // forbidden 0, nal_ref_idc 0, type 9
    ...nalUnit(3, 0x67, sps), // nal_ref_idc 3, type 7
    ...nalUnit(3, 0x68, pps), // nal_ref_idc 3, type 8
    ...nalUnit(2, 0x65, slice), // nal_ref_idc 3, type 5: IDR
    0x00,
    0x00,
    0x01,
    0x0c, // filler data: nal_ref_idc 0, type 12
  ]);
}

// ---- the audio elementary stream ---------------------------------------------------

/**
 * One ADTS frame of `bytes` bytes (header included): AAC LC, 48 kHz, mono,
 * 1024 samples of silence (a single channel element with no scale factor
 * bands), padded to the size with a fill element. (An AAC frame lasts
 * 21.3 ms at 48 kHz; the signal's audio PES come every 24 ms, so a decoder
 * hears 2.7 ms gaps between frames: this is a test pattern, not programme
 * audio.)
 */
export function adtsSilence(bytes: number): Uint8Array {
  // raw_data_block = SCE (29 bits) + FIL (15 bits + 8 * fill) + END (3 bits) -> fill + 6 bytes.
  const fill = bytes - 7 - 6;
  if (fill < 15 || fill > 15 + 255 - 1) throw new RangeError(`ADTS frame of ${bytes} bytes`);
  const w = new BitWriter()
    .u(0xfff, 12) // syncword
    .u(0, 1) // ID: MPEG-4
    .u(0, 2) // layer
    .u(1, 1) // protection_absent: no CRC
    .u(1, 2) // profile: AAC LC (object type 2)
    .u(3, 4) // sampling_frequency_index: 48000 Hz
    .u(0, 1) // private_bit
    .u(1, 3) // channel_configuration: mono
    .u(0, 4) // original_copy, home, copyright_identification_bit and _start
    .u(bytes, 13) // aac_frame_length, header included
    .u(0x7ff, 11) // adts_buffer_fullness: variable bitrate
    .u(0, 2) // number_of_raw_data_blocks_in_frame - 1
    // single_channel_element
    .u(0, 3) // id_syn_ele SCE
    .u(0, 4) // element_instance_tag
    .u(100, 8) // global_gain
    .u(0, 1) // ics_reserved_bit
    .u(0, 2) // window_sequence: ONLY_LONG_SEQUENCE
    .u(0, 1) // window_shape
    .u(0, 6) // max_sfb: no bands coded, silence
    .u(0, 1) // predictor_data_present
    .u(0, 1) // pulse_data_present
    .u(0, 1) // tns_data_present
    .u(0, 1) // gain_control_data_present
    // fill_element: count 15 + esc_count - 1 bytes of extension_payload (EXT_FILL)
    .u(6, 3) // id_syn_ele FIL
    .u(15, 4) // count
    .u(fill - 15 + 1, 8) // esc_count
    .u(0, 4) // extension_type EXT_FILL
    .u(0, 4); // fill_nibble
  for (let i = 1; i < fill; i++) w.u(0xa5, 8); // fill_byte '10100101'
  w.u(7, 3); // id_syn_ele END
  const frame = w.align(); // byte_alignment
  if (frame.length !== bytes) {
    throw new Error(`ADTS frame built ${frame.length} bytes, not ${bytes}`);
  }
  return new Uint8Array(frame);
}
