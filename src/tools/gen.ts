/**
 * The traffic generator: paced, numbered UDP (multicast or unicast, IPv4 or
 * IPv6). Pacing is against
 * a monotonic clock with no drift: at every step it sends what is due,
 * floor(elapsed * rate) - sent, in batches of at most ~1 ms worth.
 */
import { UDP_BATCH, UdpSender } from "../../ffi/udp.ts";
import { formatIp, type IpAddress } from "../net/address.ts";
import { buildPayload } from "./payload.ts";

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
}

export interface GenResult {
  sent: number;
  elapsed_s: number;
  rate_pps: number;
  target_pps: number;
  size: number;
  run_id: number;
  send_errors: number;
}

export async function generate(o: GenOptions): Promise<GenResult> {
  const label = `to ${formatIp(o.destination)} port ${o.port}${
    o.source ? ` from ${formatIp(o.source)}` : ""
  }`;
  const sender = UdpSender.open(o.destination.family, o.source, o.ifindex, o.ttl, label);
  const to = sender.destination(o.destination, o.port);
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
