/**
 * `mcr streams [RULE]`: the stream health of a running relay's inspected
 * rules (GET /api/v1/streams): one line per stream with its state and worst
 * indicator, then its RTP and MPEG-TS figures and PIDs; --json prints the
 * API's answer.
 */
import { parseRemote } from "./args.ts";
import { clientOptions, report } from "./client.ts";
import type { StreamReport } from "../streams/readout.ts";

export const USAGE = "usage: mcr streams [RULE] [--api URL] [--token-file FILE] [--json]\n" +
  "  Stream health of the rules with `inspect`: state and reasons, rates, inter-arrival times,\n" +
  "  RTP loss/duplicates/reordering/jitter, MPEG-TS TR 101 290 counters and PIDs.";

const num = (v: number) => Number.isInteger(v) ? String(v) : v.toFixed(3);

/** The reports as text (pure, for tests). */
export function formatStreams(reports: readonly StreamReport[]): string {
  if (reports.length === 0) return "no inspected rules (set `inspect` on a rule)";
  const lines: string[] = [];
  for (const r of reports) {
    lines.push(
      `${r.rule} [${r.mode}] ${r.state.toUpperCase()}${r.indicator ? ` (${r.indicator})` : ""}: ` +
        `${num(r.packets_per_second)} pkt/s, ${
          (r.bits_per_second / 1e6).toFixed(3)
        } Mb/s, ${r.packets} packets`,
    );
    for (const reason of r.reasons) lines.push(`  ${reason}`);
    if (r.interarrival_ms) {
      const i = r.interarrival_ms;
      lines.push(`  inter-arrival ms: min ${i.min} mean ${i.mean} max ${i.max} p99 ≤ ${i.p99}`);
    }
    if (r.rtp) {
      const t = r.rtp;
      lines.push(
        `  rtp: lost ${t.lost} duplicates ${t.duplicates} reordered ${t.reordered} restarts ${t.restarts} ` +
          `ssrc changes ${t.ssrc_changes} invalid ${t.invalid} jitter ${num(t.jitter_ms)} ms ` +
          `(max ${num(t.jitter_max_ms)}) pt ${t.payload_type}`,
      );
    }
    if (r.ts) {
      const t = r.ts as Record<string, number>;
      lines.push(
        `  ts p1: sync_loss ${t.sync_loss} sync_byte ${t.sync_byte_error} pat ${t.pat_error} cc ${t.cc_error} ` +
          `pmt ${t.pmt_error} pid ${t.pid_error}`,
      );
      lines.push(
        `  ts p2: transport ${t.transport_error} crc ${t.crc_error} pcr_repetition ${t.pcr_repetition_error} ` +
          `pcr_discontinuity ${t.pcr_discontinuity_error} pts ${t.pts_error} cat ${t.cat_error}; ` +
          `${t.packet_size}-byte packets, pcr interval max ${num(t.pcr_interval_max_ms)} ms`,
      );
      const pids = (r.ts.pids ?? []) as {
        pid: number;
        kind: string;
        packets: number;
        cc_errors: number;
      }[];
      if (pids.length > 0) {
        lines.push(
          "  pids: " +
            pids.map((p) =>
              `0x${p.pid.toString(16)} ${p.kind} ${p.packets}${
                p.cc_errors ? ` cc_err ${p.cc_errors}` : ""
              }`
            )
              .join(", "),
        );
      }
    }
  }
  return lines.join("\n");
}

export async function streamsCommand(argv: string[]): Promise<number> {
  const p = parseRemote("mcr streams", argv, USAGE);
  if (typeof p === "number") return p;
  const rule = p.positionals[0];
  const path = rule === undefined
    ? "/api/v1/streams"
    : `/api/v1/streams/${encodeURIComponent(rule)}`;
  const res = await report(
    "mcr streams",
    clientOptions(p.values),
    "GET",
    path,
    undefined,
    p.values.json,
  );
  if (typeof res === "number") return res;
  const reports = (rule === undefined ? res.body : [res.body]) as StreamReport[];
  if (p.values.json) console.log(JSON.stringify(res.body));
  else console.log(formatStreams(reports));
  return 0;
}
