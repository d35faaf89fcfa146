/**
 * Many rules for scale benchmarks and tests: rule i relays group
 * 239.(10+i/65536).x.y:5000 on `inIf` to 239.(200+i/65536).x.y on `outIf`
 * (one group each), and a config file of `count` of them, one per line.
 */
import type { Rule } from "../config/schema.ts";

/** Rule number i, named `name`; its output on `outPort` (6000 by default). */
export function numberedRule(
  i: number,
  name: string,
  inIf: string,
  outIf: string,
  outPort = 6000,
): Rule {
  const low = `${(i >> 8) & 255}.${i & 255}`;
  return {
    name,
    input: { interface: inIf, group: `239.${10 + (i >> 16)}.${low}`, port: 5000 },
    outputs: [{ interface: outIf, group: `239.${200 + (i >> 16)}.${low}`, port: outPort }],
  };
}

/** A configuration of rules r0 .. r(count-1), one JSON flow mapping per line. */
export function numberedRulesYaml(count: number, inIf: string, outIf: string): string {
  let text = "rules:\n";
  for (let i = 0; i < count; i++) {
    text += `  - ${JSON.stringify(numberedRule(i, `r${i}`, inIf, outIf))}\n`;
  }
  return text;
}
