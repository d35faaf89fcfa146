/**
 * The receiver: joins a group (or binds a unicast address), receives in batches, checks every payload and
 * accounts loss, duplicates, reordering and corruption from the sequence
 * numbers. Stops after an idle timeout once traffic was seen.
 */
import { UdpReceiver } from "../../ffi/udp.ts";
import { formatIp, type IpAddress } from "../net/address.ts";
import { LatencyRecorder, type LatencySummary } from "./latency.ts";
import {
  checkPayload,
  PAYLOAD_CORRUPT,
  PAYLOAD_FOREIGN,
  payloadLatencyNs,
  payloadSequence,
} from "./payload.ts";
import { SequenceTracker } from "./sequence.ts";

export interface SinkOptions {
  /** A group (joined) or a unicast address of this host. */
  address: IpAddress;
  port: number;
  ifindex: number;
  /** Expected packet count (for loss); stop as soon as this many unique arrived and idle. */
  expect?: number;
  /** Accept only this run id (-1: the first run seen is... any run). */
  runId: number;
  idleTimeoutMs: number;
  maxSeconds: number;
}

export interface SinkResult {
  received: number;
  unique: number;
  lost: number;
  duplicates: number;
  reordered: number;
  corrupted: number;
  foreign: number;
  kernel_drops: number;
  first_ttl: number | null;
  last_ttl: number | null;
  elapsed_s: number;
  rate_pps: number;
  run_id: number;
  /** Lowest and highest sequence numbers received (-1: none). */
  min_seq: number;
  max_seq: number;
  /**
   * One-way latency, generator send time (written in the payload at its
   * sendmmsg call) to the kernel's receive time here (SO_TIMESTAMPNS), for
   * intact datagrams of the run; null if none. Both ends read the same
   * host clock (namespaces share it).
   */
  latency: LatencySummary | null;
}

export function receive(o: SinkOptions): SinkResult {
  // Slots for the largest datagram a 9000-byte MTU carries (a smaller slot would truncate jumbo datagrams).
  const rx = UdpReceiver.open(
    o.address,
    o.port,
    o.ifindex,
    `"${formatIp(o.address)}" port ${o.port}`,
    9216,
  );
  const tracker = new SequenceTracker();
  const latency = new LatencyRecorder();
  const view = new DataView(rx.buffer.buffer);
  let foreign = 0;
  let firstTtl: number | null = null;
  let firstAt = 0;
  let lastAt = 0;
  const start = performance.now();
  try {
    for (;;) {
      const now = performance.now();
      if (now - start > o.maxSeconds * 1000) break;
      if (tracker.received + foreign > 0 && now - lastAt > o.idleTimeoutMs) break;
      if (o.expect !== undefined && tracker.unique >= o.expect && now - lastAt > 200) break;
      const n = rx.receive(50);
      if (n === 0) continue;
      lastAt = performance.now();
      if (firstAt === 0) firstAt = lastAt;
      if (firstTtl === null) firstTtl = rx.lastTtl();
      for (let i = 0; i < n; i++) {
        const off = i * rx.slotSize;
        const verdict = checkPayload(view, rx.buffer, off, rx.lengths[i], o.runId);
        if (verdict === PAYLOAD_FOREIGN) {
          foreign++;
          continue;
        }
        tracker.add(payloadSequence(view, off));
        if (verdict === PAYLOAD_CORRUPT) tracker.corrupted++;
        else if (rx.times[2 * i] !== 0) {
          latency.add(payloadLatencyNs(view, off, rx.times[2 * i], rx.times[2 * i + 1]));
        }
      }
    }
  } finally {
    rx.close();
  }
  const span = lastAt > firstAt ? (lastAt - firstAt) / 1000 : 0;
  return {
    received: tracker.received,
    unique: tracker.unique,
    lost: tracker.lost(o.expect),
    duplicates: tracker.duplicates,
    reordered: tracker.reordered,
    corrupted: tracker.corrupted,
    foreign,
    kernel_drops: rx.kernelDrops(),
    first_ttl: firstTtl,
    last_ttl: tracker.received > 0 ? rx.lastTtl() : null,
    elapsed_s: +((performance.now() - start) / 1000).toFixed(3),
    rate_pps: span > 0 ? Math.round(tracker.received / span) : 0,
    run_id: o.runId,
    min_seq: tracker.lowest,
    max_seq: tracker.highest,
    latency: latency.summary(),
  };
}
