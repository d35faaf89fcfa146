/**
 * Renders the benchmark charts as plain SVG text, no dependencies: two
 * panels against offered rate, one line per relay. Throughput: loss % and
 * relay CPU ns per forwarded packet. Latency: one-way p50 and p99.
 */

export interface ChartPoint {
  rate: number;
  lossPct: number;
  cpuNsPerPacket: number | null;
}

export interface ChartSeries {
  name: string;
  points: ChartPoint[];
}

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"];

function escapeXml(s: string): string {
  return s.replace(
    /[<>&"]/g,
    (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;" })[c]!,
  );
}

function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/** A line on a panel: y null where nothing was measured. */
interface Line {
  name: string;
  points: { x: number; y: number | null }[];
}

/** One panel: x = offered rate, y linear from 0 or logarithmic (powers of 10); returns SVG elements. */
function panel(
  lines: Line[],
  title: string,
  x0: number,
  y0: number,
  w: number,
  h: number,
  xMax: number,
  log = false,
): string {
  const vals = lines.flatMap((s) => s.points.map((p) => p.y)).filter((v): v is number =>
    v !== null && (!log || v > 0)
  );
  const yMax = log
    ? 10 ** Math.ceil(Math.log10(Math.max(10, ...vals)))
    : niceMax(Math.max(0, ...vals) * 1.05);
  const yMin = log ? 10 ** Math.floor(Math.log10(Math.max(1, Math.min(yMax / 10, ...vals)))) : 0;
  const px = (r: number) => x0 + (r / xMax) * w;
  const frac = (v: number) =>
    log
      ? (Math.log10(Math.max(v, yMin)) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))
      : v / yMax;
  const py = (v: number) => y0 + h - frac(v) * h;
  const out: string[] = [];
  out.push(
    `<text x="${x0 + w / 2}" y="${y0 - 10}" text-anchor="middle" font-size="14">${
      escapeXml(title)
    }</text>`,
  );
  out.push(`<rect x="${x0}" y="${y0}" width="${w}" height="${h}" fill="none" stroke="#888"/>`);
  const ticks = log
    ? Array.from({ length: Math.round(Math.log10(yMax / yMin)) + 1 }, (_, i) => yMin * 10 ** i)
    : Array.from({ length: 5 }, (_, i) => (yMax * i) / 4);
  for (const v of ticks) {
    const y = py(v);
    out.push(`<line x1="${x0}" y1="${y}" x2="${x0 + w}" y2="${y}" stroke="#eee"/>`);
    out.push(
      `<text x="${x0 - 6}" y="${y + 4}" text-anchor="end" font-size="11">${+v.toPrecision(
        3,
      )}</text>`,
    );
  }
  for (let i = 0; i <= 4; i++) {
    const r = (xMax * i) / 4;
    out.push(
      `<text x="${px(r)}" y="${y0 + h + 16}" text-anchor="middle" font-size="11">${
        Math.round(r / 1000)
      }k</text>`,
    );
  }
  out.push(
    `<text x="${x0 + w / 2}" y="${
      y0 + h + 34
    }" text-anchor="middle" font-size="12">offered rate (pps)</text>`,
  );
  lines.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const pts = s.points
      .filter((p): p is { x: number; y: number } => p.y !== null && (!log || p.y > 0))
      .sort((a, b) => a.x - b.x);
    if (pts.length === 0) return;
    out.push(
      `<polyline fill="none" stroke="${color}" stroke-width="2" points="${
        pts.map((p) => `${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`).join(" ")
      }"/>`,
    );
    for (const p of pts) {
      out.push(
        `<circle cx="${px(p.x).toFixed(1)}" cy="${py(p.y).toFixed(1)}" r="3" fill="${color}"/>`,
      );
    }
  });
  return out.join("\n");
}

/** Two panels side by side and a legend naming each line: the frame both charts share. */
function twoPanels(
  names: string[],
  left: { title: string; lines: Line[] },
  right: { title: string; lines: Line[] },
  caption: string,
  log: boolean,
): string {
  const width = 960;
  const height = 420;
  const xMax = niceMax(
    Math.max(1, ...[...left.lines, ...right.lines].flatMap((s) => s.points.map((p) => p.x))),
  );
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">`,
  );
  parts.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  parts.push(panel(left.lines, left.title, 70, 50, 350, 260, xMax, log));
  parts.push(panel(right.lines, right.title, 560, 50, 350, 260, xMax, log));
  // The legend shares the width between the series (every entry inside the SVG).
  const step = Math.min(180, (width - 140) / Math.max(1, names.length));
  names.forEach((name, i) => {
    const x = 70 + i * step;
    parts.push(
      `<rect x="${x}" y="${height - 50}" width="14" height="14" fill="${
        COLORS[i % COLORS.length]
      }"/>`,
    );
    parts.push(`<text x="${x + 20}" y="${height - 38}" font-size="12">${escapeXml(name)}</text>`);
  });
  parts.push(
    `<text x="${width / 2}" y="${height - 10}" text-anchor="middle" font-size="11" fill="#555">${
      escapeXml(caption)
    }</text>`,
  );
  parts.push(`</svg>`);
  return parts.join("\n");
}

/** Renders the throughput chart (loss and CPU per packet against offered rate) as an SVG document. */
export function renderChart(series: ChartSeries[], caption: string): string {
  const line = (value: (p: ChartPoint) => number | null) =>
    series.map((s) => ({
      name: s.name,
      points: s.points.map((p) => ({ x: p.rate, y: value(p) })),
    }));
  return twoPanels(
    series.map((s) => s.name),
    { title: "loss at the receiver (%)", lines: line((p) => p.lossPct) },
    { title: "relay CPU per forwarded packet (ns)", lines: line((p) => p.cpuNsPerPacket) },
    caption,
    false,
  );
}

export interface LatencySeries {
  name: string;
  points: { rate: number; p50Us: number | null; p99Us: number | null }[];
}

/** Renders the latency chart: one-way p50 and p99 (µs, logarithmic) against offered rate, one line per relay. */
export function renderLatencyChart(series: LatencySeries[], caption: string): string {
  const line = (q: "p50Us" | "p99Us") =>
    series.map((s) => ({ name: s.name, points: s.points.map((p) => ({ x: p.rate, y: p[q] })) }));
  return twoPanels(
    series.map((s) => s.name),
    { title: "one-way latency p50 at the receiver (µs)", lines: line("p50Us") },
    { title: "one-way latency p99 at the receiver (µs)", lines: line("p99Us") },
    caption,
    true,
  );
}
