/**
 * `mcr explain RULE`: where a rule's stream stops (GET
 * /api/v1/rules/{name}/explain). One line per step along the path, with its
 * verdict and, when it is not ok, what to do. Exit status as a monitoring
 * plugin's: 0 every step ok, 1 a warning, 2 a step failed, 3 the relay
 * could not be asked (1 too when it refused, e.g. no such rule).
 */
import { parseRemote } from "./args.ts";
import { clientOptions, report } from "./client.ts";
import type { ExplainReport } from "../stats/explain.ts";

export const USAGE = "usage: mcr explain RULE [--api URL] [--token-file FILE] [--json]\n" +
  "  Walks RULE's path and says where its stream stops: input link, group joined, querier heard,\n" +
  "  packets arriving and matching, drops, each output (errors by errno name), residence time.\n" +
  "  Exit 0: all ok; 1: a warning (or the request was refused); 2: a step failed; 3: no relay.";

const MARK = { ok: "OK  ", warn: "WARN", fail: "FAIL", skip: "--  " } as const;

/** The report as text (pure, for tests). */
export function formatExplain(r: ExplainReport): string {
  const lines = [`rule ${r.rule}: ${r.verdict.toUpperCase()}`];
  for (const s of r.steps) {
    const what = s.subject ? `${s.step} ${s.subject}` : s.step;
    lines.push(`  ${MARK[s.status]} ${what}: ${s.detail}`);
    if (s.hint) lines.push(`         -> ${s.hint}`);
  }
  return lines.join("\n");
}

export async function explainCommand(argv: string[]): Promise<number> {
  const p = parseRemote("mcr explain", argv, USAGE);
  if (typeof p === "number") return p;
  const rule = p.positionals[0];
  if (rule === undefined || p.positionals.length > 1) {
    return (console.error(`mcr explain: name one rule\n${USAGE}`), 1);
  }
  const res = await report(
    "mcr explain",
    clientOptions(p.values),
    "GET",
    `/api/v1/rules/${encodeURIComponent(rule)}/explain`,
    undefined,
    p.values.json,
  );
  if (typeof res === "number") return res;
  const body = res.body as ExplainReport;
  console.log(p.values.json ? JSON.stringify(body) : formatExplain(body));
  return body.verdict === "ok" ? 0 : body.verdict === "warn" ? 1 : 2;
}
