/**
 * `mcr merges [RULE] [--lock LEG | --unlock]`: the merged pairs of a running
 * relay (GET /api/v1/merges): one line per pair with its state and figures,
 * one per leg with its state, losses repaired and path differential, and
 * the last switches of a failover pair; --lock / --unlock set the failover
 * lock (PUT /api/v1/merges/RULE/lock). --json prints the API's answer.
 */
import { z } from "zod";
import { parseRemote, RemoteArgs } from "./args.ts";
import { clientOptions, report } from "./client.ts";
import type { MergeReport } from "../merge/merge_readout.ts";

export const USAGE =
  "usage: mcr merges [RULE] [--lock LEG | --unlock] [--api URL] [--token-file FILE] [--json]\n" +
  "  Merged pairs (rules with `merge`): state and reasons, datagrams sent, duplicates, late,\n" +
  "  lost on every leg; per leg: up/down, lost and repaired, path differential.\n" +
  "  --lock LEG (failover) sends that leg alone until --unlock.";

const Args = RemoteArgs.extend({
  lock: z.string().regex(/^\d+$/, "a leg number").optional(),
  unlock: z.boolean().optional(),
});

const ms = (v: unknown) => typeof v === "number" ? v.toFixed(3) : "-";

/** The reports as text (pure, for tests). */
export function formatMerges(reports: readonly MergeReport[]): string {
  if (reports.length === 0) return "no merge rules (a rule with `merge: { legs: [...] }`)";
  const lines: string[] = [];
  for (const r of reports) {
    const f = r.figures;
    lines.push(
      `${r.rule} [${r.mode}, ${r.key}, ${r.window_ms} ms] ${r.state.toUpperCase()}: sent ${f.forwarded}, ` +
        `duplicates ${f.duplicates}, late ${f.late}, lost on every leg ${f.lost}, rejected ${f.rejected}` +
        (r.mode === "failover"
          ? `, active leg ${f.active_leg}${r.locked_leg >= 0 ? ` (locked)` : ""}`
          : ""),
    );
    for (const reason of r.reasons) lines.push(`  ${reason}`);
    for (const l of r.legs) {
      lines.push(
        `  leg ${l.leg} ${l.interface} ${l.destination}:${l.port ?? "-"} ${l.state}: ` +
          `packets ${l.packets}, first ${l.first}, lost ${l.lost} (repaired ${l.recovered}), ` +
          `late ${l.late}, pd ${ms(l.pd_ms)} ms (max ${ms(l.pd_max_ms)})`,
      );
    }
    const d = r.diversity;
    if (d.common_mode !== null) {
      lines.push(
        `  diversity (${d.window_s} s): ${d.single} lost on one leg, ${d.multi} on several ` +
          `(${Math.round(d.common_mode * 100)} % common-mode)`,
      );
    }
    for (const s of r.switches.slice(-5)) {
      lines.push(
        `  switch ${new Date(s.at_ms).toISOString()}: leg ${s.from} -> ${s.to} (${s.reason})`,
      );
    }
  }
  return lines.join("\n");
}

export async function mergesCommand(argv: string[]): Promise<number> {
  const p = parseRemote("mcr merges", argv, USAGE, Args, {
    lock: { type: "string" },
    unlock: { type: "boolean" },
  });
  if (typeof p === "number") return p;
  const rule = p.positionals[0];
  const locking = p.values.lock !== undefined || p.values.unlock === true;
  if (locking && (rule === undefined || (p.values.lock !== undefined && p.values.unlock))) {
    console.error(`mcr merges: --lock LEG or --unlock, with the RULE\n${USAGE}`);
    return 1;
  }
  const path = rule === undefined ? "/api/v1/merges" : `/api/v1/merges/${encodeURIComponent(rule)}`;
  const o = clientOptions(p.values);
  const res = locking
    ? await report("mcr merges", o, "PUT", `${path}/lock`, {
      leg: p.values.lock === undefined ? null : Number(p.values.lock),
    }, p.values.json)
    : await report("mcr merges", o, "GET", path, undefined, p.values.json);
  if (typeof res === "number") return res;
  const reports = (rule === undefined ? res.body : [res.body]) as MergeReport[];
  if (p.values.json) console.log(JSON.stringify(res.body));
  else console.log(formatMerges(reports));
  return 0;
}
