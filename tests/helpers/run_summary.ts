/**
 * The test runner's capability summary (tests/run_all.sh): which optional
 * kernel features this machine lacks, and which tests were skipped for
 * them (their names carry `[skipped, needs CAP: reason]`, tests/helpers/netns.ts),
 * so that a green run cannot hide a skipped feature.
 *
 *   deno run --allow-read tests/helpers/run_summary.ts CAPS.json TEST_LOG
 */
import { type KernelProbe, simulateLacking } from "../../src/tools/kernel_probe.ts";

export interface SkipSummary {
  /** Capability -> its reason and the names of the tests skipped for it. */
  missing: Map<string, { reason: string; tests: string[] }>;
  /** Capabilities the probe found. */
  present: string[];
  /** Tests ignored for another reason (their names, which should say why). */
  otherIgnored: string[];
}

const IGNORED = / \.\.\. ignored \(/;
const SKIPPED = / \[skipped, needs ([a-z0-9_]+): (.*)\]$/;

/** Reads the probe and the test log (ANSI colours are stripped). */
export function summarise(probe: KernelProbe | null, log: string): SkipSummary {
  const missing = new Map<string, { reason: string; tests: string[] }>();
  const present: string[] = [];
  for (const [cap, r] of Object.entries(probe ?? {})) {
    if (r.ok) present.push(cap);
    else missing.set(cap, { reason: r.reason ?? "missing", tests: [] });
  }
  const otherIgnored: string[] = [];
  // deno test prints "name ... ignored (0ms)"; a line may also carry other output before it.
  // deno-lint-ignore no-control-regex -- the ANSI colour codes deno test prints
  const plain = log.replace(/\x1b\[[0-9;]*m/g, "");
  for (const line of plain.split("\n")) {
    if (!IGNORED.test(line)) continue;
    const name = line.slice(0, line.search(IGNORED));
    const m = name.match(SKIPPED);
    if (m) {
      const entry = missing.get(m[1]) ?? { reason: m[2], tests: [] };
      entry.tests.push(name.slice(0, name.length - m[0].length));
      missing.set(m[1], entry);
    } else otherIgnored.push(name);
  }
  return { missing, present, otherIgnored };
}

/** The lines the runner prints before its "N passed, N failed" line. */
export function summaryLines(s: SkipSummary): string[] {
  const skipped = [...s.missing.values()].reduce((a, m) => a + m.tests.length, 0);
  const lines: string[] = [];
  if (s.missing.size === 0) {
    lines.push(`kernel capabilities: all present (${s.present.join(", ") || "none probed"})`);
  } else {
    const parts = [...s.missing].map(([cap, m]) =>
      `${cap} (${m.reason}): ${m.tests.length} test${m.tests.length === 1 ? "" : "s"} skipped`
    );
    lines.push(
      `kernel capabilities missing: ${parts.join("; ")}; present: ${
        s.present.join(", ") || "none"
      }; ${skipped} test${skipped === 1 ? "" : "s"} skipped for missing capabilities`,
    );
    for (const [cap, m] of s.missing) {
      for (const t of m.tests) lines.push(`  skipped (${cap}): ${t}`);
    }
  }
  if (s.otherIgnored.length > 0) {
    lines.push(`${s.otherIgnored.length} test(s) ignored for other reasons:`);
    for (const t of s.otherIgnored) lines.push(`  ignored: ${t}`);
  }
  return lines;
}

if (import.meta.main) {
  const [capsFile, logFile] = Deno.args;
  let probe: KernelProbe | null = null;
  try {
    probe = JSON.parse(Deno.readTextFileSync(capsFile));
  } catch { /* no probe (not root): only the ignored tests are listed */ }
  // MCR_KERNEL_LACKS simulates missing capabilities: the summary shows what the tests saw.
  if (probe) probe = simulateLacking(probe, Deno.env.get("MCR_KERNEL_LACKS"));
  for (const l of summaryLines(summarise(probe, Deno.readTextFileSync(logFile)))) console.log(l);
}
