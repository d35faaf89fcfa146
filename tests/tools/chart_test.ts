import assert from "node:assert/strict";
import { renderChart, renderLatencyChart } from "../../bench/chart.ts";

Deno.test("the benchmark chart keeps every legend entry inside the SVG, however many series", () => {
  for (const n of [1, 6, 8]) {
    const series = Array.from(
      { length: n },
      (_, i) => ({
        name: `relay ${i} 1024B`,
        points: [{ rate: 1000, lossPct: 0, cpuNsPerPacket: 100 }],
      }),
    );
    const svg = renderChart(series, "caption");
    const width = Number(svg.match(/<svg[^>]* width="(\d+)"/)![1]);
    const legend = [...svg.matchAll(/<text x="([\d.]+)" y="\d+" font-size="12">relay/g)].map((m) =>
      Number(m[1])
    );
    assert.equal(legend.length, n);
    // An entry is the swatch's 20 px plus about 7 px per character.
    for (const x of legend) {
      assert.ok(x + 7 * "relay 0 1024B".length <= width, `entry at ${x} of ${width}`);
    }
  }
});

Deno.test("the latency chart draws p50 and p99 on a logarithmic axis: each power of ten is the same height, unmeasured points are left out", () => {
  const svg = renderLatencyChart([
    {
      name: "mcr",
      points: [{ rate: 1000, p50Us: 10, p99Us: null }, { rate: 10000, p50Us: 100, p99Us: 1000 }, {
        rate: 50000,
        p50Us: 1000,
        p99Us: 10000,
      }],
    },
  ], "caption");
  const circles = [...svg.matchAll(/<circle cx="([\d.]+)" cy="([\d.]+)"/g)].map((m) => ({
    x: Number(m[1]),
    y: Number(m[2]),
  }));
  assert.equal(circles.length, 5, "three p50 points and two p99 points (one p99 was not measured)");
  const p50 = circles.slice(0, 3);
  // 10 -> 100 and 100 -> 1000 µs are the same step upwards.
  assert.ok(p50[0].y > p50[1].y && p50[1].y > p50[2].y, "higher latency is higher on the chart");
  assert.ok(
    Math.abs((p50[0].y - p50[1].y) - (p50[1].y - p50[2].y)) < 0.5,
    `log spacing: ${JSON.stringify(p50)}`,
  );
  assert.match(svg, /one-way latency p99/);
});
