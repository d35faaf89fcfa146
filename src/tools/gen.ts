/**
 * The traffic generator: paced, numbered UDP (multicast or unicast, IPv4 or
 * IPv6), or a test signal (src/tools/signal.ts: RTP, RTP + MPEG-TS, MPEG-TS,
 * with faults). Pacing is against
 * a monotonic clock with no drift: at every step it sends what is due,
 * floor(elapsed * rate) - sent, in batches of at most ~1 ms worth.
 */
import { UDP_BATCH, UdpSender } from "../../ffi/udp.ts";
import { formatIp, type IpAddress } from "../net/address.ts";
import { buildPayload } from "./payload.ts";
import type { SignalInjected, SignalMode, TestSignal } from "./signal.ts";

export interface GenOptions {
  /** Destination: a group or a unicast address. */
  destination: IpAddress;
  port: number;
  count: number;
  rate: number;
  size: number;
  /** Source address (bound), or null for the routing table's choice. */
  source: IpAddress | null;
  /** Multicast egress interface index (0: the routing table decides). */
  ifindex: number;
  ttl: number;
  runId: number;
  /**
   * Send this test signal instead of numbered datagrams: `count` is then its
   * datagram count before faults, and its datagram rate and size replace
   * `rate` and `size`.
   */
  signal?: TestSignal;
}

/** What `--json` adds about a test signal. */
export interface GenSignalResult {
  mode: SignalMode;
  /** Datagrams of the signal before faults (the indices of `injected`). */
  datagrams: number;
  /** Datagrams the faults leave to send (drops removed, duplicates added). */
  datagrams_after_faults: number;
  ts_packets_per_datagram: number;
  ts_packet_size?: number;
  bitrate?: number;
  datagram_rate: number;
  datagram_size: number;
  rtp?: { payload_type: number; ssrc: number; first_seq: number; first_timestamp: number };
  injected: SignalInjected;
}

export interface GenResult {
  sent: number;
  elapsed_s: number;
  rate_pps: number;
  target_pps: number;
  size: number;
  run_id: number;
  send_errors: number;
  signal?: GenSignalResult;
}

export async function generate(o: GenOptions): Promise<GenResult> {
  const label = `to ${formatIp(o.destination)} port ${o.port}${
    o.source ? ` from ${formatIp(o.source)}` : ""
  }`;
  const sender = UdpSender.open(o.destination.family, o.source, o.ifindex, o.ttl, label);
  const to = sender.destination(o.destination, o.port);
  if (o.signal) return await sendSignal(sender, to, o, o.signal);
  const template = buildPayload(o.runId, o.size);
  const batch = Math.max(1, Math.min(UDP_BATCH, Math.floor(o.rate / 1000)));
  let sent = 0;
  let errors = 0;
  const start = performance.now();
  try {
    while (sent < o.count) {
      const elapsed = (performance.now() - start) / 1000;
      const due = Math.min(o.count, Math.floor(elapsed * o.rate) + 1);
      if (due <= sent) {
        // Sleep when the next packet is more than ~2 ms away, else spin.
        const waitMs = ((sent + 1) / o.rate - elapsed) * 1000;
        if (waitMs > 2) await new Promise((r) => setTimeout(r, waitMs - 1));
        continue;
      }
      while (sent < due) {
        const n = Math.min(batch, due - sent);
        const rc = sender.sendBatch(to, template, n, sent);
        if (rc < 0) {
          errors++;
          if (errors > 1000) throw new Error(`sending failed repeatedly (errno ${-rc})`);
          break;
        }
        sent += rc;
      }
    }
  } finally {
    sender.close();
  }
  const elapsed = (performance.now() - start) / 1000;
  return {
    sent,
    elapsed_s: +elapsed.toFixed(3),
    rate_pps: Math.round(sent / Math.max(elapsed, 1e-9)),
    target_pps: o.rate,
    size: o.size,
    run_id: o.runId,
    send_errors: errors,
  };
}

/**
 * Sends a test signal: datagram k is due at k / rate; drops, duplicates and
 * swaps (the signal's send-order faults) are applied as the datagrams are
 * queued, several different datagrams per sendmmsg().
 */
async function sendSignal(
  sender: UdpSender,
  to: Uint8Array,
  o: GenOptions,
  signal: TestSignal,
): Promise<GenResult> {
  const rate = signal.datagramRate;
  const size = signal.datagramSize;
  const count = signal.count;
  const buffer = new Uint8Array(UDP_BATCH * size);
  const lengths = new Int32Array(UDP_BATCH).fill(size);
  // Up to ~1 ms worth per call; one step queues at most 4 (a swapped pair, each duplicated).
  const batch = Math.max(1, Math.min(UDP_BATCH - 4, Math.floor(rate / 1000)));
  let queued = 0;
  let sent = 0;
  let errors = 0;
  const queue = (k: number) => {
    if (signal.dropped(k)) return;
    signal.build(k, buffer, queued * size);
    queued++;
    if (signal.duplicated(k)) {
      buffer.copyWithin(queued * size, (queued - 1) * size, queued * size);
      queued++;
    }
  };
  /** Sends what is queued; false if the socket failed (what is left stays queued). */
  const flush = (): boolean => {
    while (queued > 0) {
      const rc = sender.sendPayloads(to, buffer, lengths, queued);
      if (rc < 0) {
        errors++;
        if (errors > 1000) throw new Error(`sending failed repeatedly (errno ${-rc})`);
        return false;
      }
      sent += rc;
      buffer.copyWithin(0, rc * size, queued * size);
      queued -= rc;
    }
    return true;
  };
  let next = 0; // the next datagram index to queue
  const start = performance.now();
  try {
    while (next < count || queued > 0) {
      const elapsed = (performance.now() - start) / 1000;
      const due = Math.min(count, Math.floor(elapsed * rate) + 1);
      if (due <= next && queued === 0) {
        const waitMs = ((next + 1) / rate - elapsed) * 1000;
        if (waitMs > 2) await new Promise((r) => setTimeout(r, waitMs - 1));
        continue;
      }
      while (next < due && queued + 4 <= UDP_BATCH) {
        if (signal.swappedWithNext(next)) {
          queue(next + 1);
          queue(next);
          next += 2;
        } else {
          queue(next);
          next++;
        }
        if (queued >= batch && !flush()) break;
      }
      if (!flush()) await new Promise((r) => setTimeout(r, 1));
    }
  } finally {
    sender.close();
  }
  const elapsed = (performance.now() - start) / 1000;
  return {
    sent,
    elapsed_s: +elapsed.toFixed(3),
    rate_pps: Math.round(sent / Math.max(elapsed, 1e-9)),
    target_pps: +rate.toFixed(3),
    size,
    run_id: o.runId,
    send_errors: errors,
    signal: signalResult(signal),
  };
}

/** What --json says about a test signal: its mode, rates, RTP start and where each fault went. */
export function signalResult(signal: TestSignal): GenSignalResult {
  const ts = signal.tsPacketsPerDatagram > 0;
  const rtp = signal.mode !== "ts";
  return {
    mode: signal.mode,
    datagrams: signal.count,
    datagrams_after_faults: signal.sentCount,
    ts_packets_per_datagram: signal.tsPacketsPerDatagram,
    ...(ts ? { ts_packet_size: signal.tsPacketSize, bitrate: signal.bitrate } : {}),
    datagram_rate: +signal.datagramRate.toFixed(3),
    datagram_size: signal.datagramSize,
    ...(rtp
      ? {
        rtp: {
          payload_type: signal.payloadType,
          ssrc: signal.ssrc,
          first_seq: signal.rtpSeq,
          first_timestamp: signal.rtpTimestamp,
        },
      }
      : {}),
    injected: signal.injected(),
  };
}
