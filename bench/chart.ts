/**
 * Renders the benchmark chart: two panels (loss % and relay CPU ns per
 * forwarded packet) against offered rate, one line per relay. Plain SVG
 * text, no dependencies.
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
  return s.replace(/[<>&"]/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;" })[c]!);
}

function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/** One panel: x = rate, y = value(point); returns SVG elements. */
function panel(
  series: ChartSeries[],
  value: (p: ChartPoint) => number | null,
  title: string,
  x0: number,
  y0: number,
  w: number,
  h: number,
  xMax: number,
): string {
  const vals = series.flatMap((s) => s.points.map(value)).filter((v): v is number => v !== null);
  const yMax = niceMax(Math.max(0, ...vals) * 1.05);
  const px = (r: number) => x0 + (r / xMax) * w;
  const py = (v: number) => y0 + h - (v / yMax) * h;
  const out: string[] = [];
  out.push(`<text x="${x0 + w / 2}" y="${y0 - 10}" text-anchor="middle" font-size="14">${escapeXml(title)}</text>`);
  out.push(`<rect x="${x0}" y="${y0}" width="${w}" height="${h}" fill="none" stroke="#888"/>`);
  for (let i = 0; i <= 4; i++) {
    const v = (yMax * i) / 4;
    const y = py(v);
    out.push(`<line x1="${x0}" y1="${y}" x2="${x0 + w}" y2="${y}" stroke="#eee"/>`);
    out.push(`<text x="${x0 - 6}" y="${y + 4}" text-anchor="end" font-size="11">${+v.toPrecision(3)}</text>`);
  }
  for (let i = 0; i <= 4; i++) {
    const r = (xMax * i) / 4;
    out.push(`<text x="${px(r)}" y="${y0 + h + 16}" text-anchor="middle" font-size="11">${Math.round(r / 1000)}k</text>`);
  }
  out.push(`<text x="${x0 + w / 2}" y="${y0 + h + 34}" text-anchor="middle" font-size="12">offered rate (pps)</text>`);
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const pts = s.points
      .map((p) => [p.rate, value(p)] as const)
      .filter((p): p is readonly [number, number] => p[1] !== null)
      .sort((a, b) => a[0] - b[0]);
    if (pts.length === 0) return;
    out.push(
      `<polyline fill="none" stroke="${color}" stroke-width="2" points="${
        pts.map(([r, v]) => `${px(r).toFixed(1)},${py(v).toFixed(1)}`).join(" ")
      }"/>`,
    );
    for (const [r, v] of pts) out.push(`<circle cx="${px(r).toFixed(1)}" cy="${py(v).toFixed(1)}" r="3" fill="${color}"/>`);
  });
  return out.join("\n");
}

/** Renders the whole chart as an SVG document. */
export function renderChart(series: ChartSeries[], caption: string): string {
  const width = 960;
  const height = 420;
  const xMax = niceMax(Math.max(1, ...series.flatMap((s) => s.points.map((p) => p.rate))));
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">`);
  parts.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  parts.push(panel(series, (p) => p.lossPct, "loss at the receiver (%)", 70, 50, 350, 260, xMax));
  parts.push(panel(series, (p) => p.cpuNsPerPacket, "relay CPU per forwarded packet (ns)", 560, 50, 350, 260, xMax));
  // The legend shares the width between the series (every entry inside the SVG).
  const step = Math.min(180, (width - 140) / Math.max(1, series.length));
  series.forEach((s, i) => {
    const x = 70 + i * step;
    parts.push(`<rect x="${x}" y="${height - 50}" width="14" height="14" fill="${COLORS[i % COLORS.length]}"/>`);
    parts.push(`<text x="${x + 20}" y="${height - 38}" font-size="12">${escapeXml(s.name)}</text>`);
  });
  parts.push(`<text x="${width / 2}" y="${height - 10}" text-anchor="middle" font-size="11" fill="#555">${escapeXml(caption)}</text>`);
  parts.push(`</svg>`);
  return parts.join("\n");
}
