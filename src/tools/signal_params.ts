/**
 * The test signal's fixed parameters (SIGNAL: PIDs, stream types, periods,
 * RTP payload types, clock wraps), its modes, and the datagram rate of a TS
 * signal. Shared by the writers (signal_ts.ts, signal_rtp.ts) and the public
 * TestSignal (signal.ts); imports nothing.
 */

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
  /** Below 500 kb/s a datagram would span more than one audio frame (see signal_ts.ts). */
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

/** Bits of the 7 TS packets (188 bytes) of a datagram: 10528. */
export const BITS_PER_DATAGRAM = SIGNAL.TS_PACKETS_PER_DATAGRAM * SIGNAL.TS_PACKET * 8;

/** Datagrams per second of a TS signal of `bitrate` bits per second (188-byte packets). */
export function tsDatagramRate(bitrate: number): number {
  return bitrate / BITS_PER_DATAGRAM;
}
