/**
 * `mcr health` output as monitoring tools read it: one line, the status
 * word, text without "|", then performance data that a strict parser of the
 * monitoring-plugins guidelines accepts; thresholds only raise the verdict.
 */
import assert from "node:assert/strict";
import {
  applyThresholds,
  healthCommand,
  healthLine,
  parseRange,
  perfdata,
  rangeAlerts,
} from "../../src/cli/health.ts";
import type { HealthReport } from "../../src/stats/health.ts";
import { parsePerfdata } from "../helpers/perfdata.ts";

const OK: HealthReport = {
  status: "ok",
  reasons: [],
  reasons_total: 0,
  rules: 2,
  workers: 1,
  rx_pps: 1000,
  loss_pps: 0,
  tx_errors_pps: 0,
  silent_s: 0.25,
};

Deno.test("an OK line carries valid perfdata for every measure", () => {
  const line = healthLine(OK);
  assert.match(line, /^MCR OK - 2 rules, 1 workers, 1000 pps in, 0\.0 loss\/s \| /);
  const p = parsePerfdata(line);
  assert.deepEqual([...p.keys()], [
    "rx_pps",
    "loss_pps",
    "tx_errors_pps",
    "silent",
    "rules",
    "workers",
  ]);
  assert.equal(p.get("rx_pps")!.value, 1000);
  assert.equal(p.get("silent")!.value, 0.25);
  assert.equal(p.get("silent")!.uom, "s");
  assert.equal(p.get("loss_pps")!.min, "0");
});

Deno.test("thresholds appear in the perfdata and raise the verdict: warning above -w, critical above -c", () => {
  const t = { loss: { warn: 1, crit: 10 } };
  assert.equal(parsePerfdata(healthLine(OK, t)).get("loss_pps")!.warn, "1");
  assert.equal(applyThresholds({ ...OK, loss_pps: 0.5 }, t).status, "ok");
  const warn = applyThresholds({ ...OK, loss_pps: 5 }, t);
  assert.equal(warn.status, "warning");
  assert.match(healthLine(warn, t), /^MCR WARNING - loss 5\/s > 1\/s; /);
  assert.equal(applyThresholds({ ...OK, loss_pps: 20 }, t).status, "critical");
  assert.equal(
    applyThresholds({ ...OK, silent_s: 12 }, { silent: { warn: 5, crit: 10 } }).status,
    "critical",
  );
  assert.equal(
    applyThresholds({ ...OK, tx_errors_pps: 3 }, { txErrors: { warn: 1 } }).status,
    "warning",
  );
  const critical: HealthReport = {
    ...OK,
    status: "critical",
    reasons: ["worker 0 is not running"],
  };
  assert.equal(
    applyThresholds(critical, { loss: { warn: 1000 } }).status,
    "critical",
    "never lowered",
  );
});

Deno.test("an UNKNOWN line carries the same perfdata with every value U (could not be determined), thresholds kept", () => {
  const line = `MCR UNKNOWN - relay unreachable | ${
    perfdata(null, { loss: { warn: 1, crit: 10 } })
  }`;
  const p = parsePerfdata(line);
  assert.deepEqual([...p.keys()], [
    "rx_pps",
    "loss_pps",
    "tx_errors_pps",
    "silent",
    "rules",
    "workers",
  ]);
  for (const [k, item] of p) assert.ok(Number.isNaN(item.value), `${k} is U`);
  assert.equal(p.get("loss_pps")!.warn, "1");
  assert.equal(p.get("silent")!.uom, "", "no unit on an unknown value");
});

Deno.test("a reason containing | cannot cut the line: perfdata still parses", () => {
  const line = healthLine({ ...OK, status: "critical", reasons: ["interface a|b is absent"] });
  assert.match(line, /interface a\/b is absent/);
  assert.equal(parsePerfdata(line).size, 6);
});

Deno.test("thresholds take the monitoring-plugins range format: N, N:M, N:, ~:M, @N:M; perfdata repeats the range", () => {
  assert.deepEqual(parseRange("10"), { start: 0, end: 10, inside: false, text: "10" });
  assert.deepEqual(parseRange("10:"), { start: 10, end: Infinity, inside: false, text: "10:" });
  assert.deepEqual(parseRange("~:20").start, -Infinity);
  assert.deepEqual(parseRange("@5:9"), { start: 5, end: 9, inside: true, text: "@5:9" });
  for (const bad of ["", "x", "20:10", "1:2:3", "@", "5:x"]) {
    assert.throws(() => parseRange(bad), /threshold/, bad);
  }
  const cases: [string, number, boolean][] = [
    ["10", 11, true],
    ["10", 10, false],
    ["10:20", 9, true],
    ["10:20", 15, false],
    ["10:20", 21, true],
    ["10:", 9, true],
    ["10:", 1e9, false],
    ["~:20", -1e9, false],
    ["@10:20", 10, true],
    ["@10:20", 21, false],
  ];
  for (const [range, value, alerts] of cases) {
    assert.equal(rangeAlerts(parseRange(range), value), alerts, `${range} at ${value}`);
  }
  // A range as -w: outside 10:20 warns, with the range in the reason and in the perfdata.
  const t = { loss: { warn: "10:20", crit: "@100:200" } };
  const low = applyThresholds({ ...OK, loss_pps: 5 }, t);
  assert.equal(low.status, "warning");
  assert.match(healthLine(low, t), /loss 5\/s outside 10:20/);
  assert.equal(parsePerfdata(healthLine(low, t)).get("loss_pps")!.warn, "10:20");
  assert.equal(parsePerfdata(healthLine(low, t)).get("loss_pps")!.crit, "@100:200");
  assert.equal(applyThresholds({ ...OK, loss_pps: 150 }, t).status, "critical");
  assert.equal(applyThresholds({ ...OK, loss_pps: 15 }, t).status, "ok");
});

Deno.test("mcr health -V prints its version and exits 0; a bad range, and -t with no number, are UNKNOWN (3)", async () => {
  const out: string[] = [];
  const log = console.log;
  console.log = (...a: unknown[]) => out.push(a.join(" "));
  try {
    assert.equal(await healthCommand(["-V"]), 0);
    assert.match(out.pop()!, /^mcr health \d+\.\d+/);
    assert.equal(await healthCommand(["-w", "20:10", "--api", "http://127.0.0.1:1"]), 3);
    assert.match(out.pop()!, /^MCR UNKNOWN - .*range/);
    assert.equal(await healthCommand(["-t", "soon", "--api", "http://127.0.0.1:1"]), 3);
    assert.match(out.pop()!, /^MCR UNKNOWN - /);
    // -t 1 against nothing listening: UNKNOWN, not a hang.
    assert.equal(await healthCommand(["-t", "1", "-v", "--api", "http://127.0.0.1:1"]), 3);
  } finally {
    console.log = log;
  }
});
