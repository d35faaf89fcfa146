import assert from "node:assert/strict";
import { renderChart } from "../../bench/chart.ts";

Deno.test("the benchmark chart keeps every legend entry inside the SVG, however many series", () => {
  for (const n of [1, 6, 8]) {
    const series = Array.from({ length: n }, (_, i) => ({ name: `relay ${i} 1024B`, points: [{ rate: 1000, lossPct: 0, cpuNsPerPacket: 100 }] }));
    const svg = renderChart(series, "caption");
    const width = Number(svg.match(/<svg[^>]* width="(\d+)"/)![1]);
    const legend = [...svg.matchAll(/<text x="([\d.]+)" y="\d+" font-size="12">relay/g)].map((m) => Number(m[1]));
    assert.equal(legend.length, n);
    // An entry is the swatch's 20 px plus about 7 px per character.
    for (const x of legend) assert.ok(x + 7 * "relay 0 1024B".length <= width, `entry at ${x} of ${width}`);
  }
});
