/**
 * A strict parser of monitoring-plugins performance data (the guidelines'
 * "Performance data": 'label'=value[UOM];[warn];[crit];[min];[max], items
 * separated by spaces, after the one "|" of a plugin's first line).
 */
import assert from "node:assert/strict";

/** 'label'=value[UOM];[warn];[crit];[min];[max] (monitoring-plugins guidelines, "Performance data"). */
const NUMBER = String.raw`-?\d+(?:\.\d+)?`;
const RANGE = String.raw`@?(?:(?:~|${NUMBER})?:)?(?:${NUMBER})?`;
const ITEM = new RegExp(
  String
    .raw`^'([^'=]+)'=(${NUMBER}|U)(s|ms|us|%|B|KB|MB|TB|c)?(?:;(${RANGE})?(?:;(${RANGE})?(?:;(${NUMBER})?(?:;(${NUMBER})?)?)?)?)?$`,
);

export function parsePerfdata(
  line: string,
): Map<string, { value: number; uom: string; warn: string; crit: string; min: string }> {
  const bar = line.indexOf("|");
  assert.ok(bar > 0, "a perfdata section after |");
  assert.equal(line.indexOf("|", bar + 1), -1, "one | only");
  const out = new Map();
  for (const item of line.slice(bar + 1).trim().split(" ")) {
    const m = item.match(ITEM);
    assert.ok(m, `perfdata item "${item}" follows the guidelines`);
    out.set(m[1], {
      value: Number(m[2]),
      uom: m[3] ?? "",
      warn: m[4] ?? "",
      crit: m[5] ?? "",
      min: m[6] ?? "",
    });
  }
  return out;
}
