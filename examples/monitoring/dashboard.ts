/**
 * Writes examples/monitoring/mcr-grafana.json, a Grafana dashboard over mcr's
 * /metrics (Prometheus data source chosen at import):
 *
 *   deno run --allow-write examples/monitoring/dashboard.ts
 *
 * Every query names families the exporter serves (checked by a test).
 */
interface Panel {
  title: string;
  unit: string;
  exprs: [string, string][];
}

const PANELS: Panel[] = [
  {
    title: "Packets in / out",
    unit: "pps",
    exprs: [["in", "sum(rate(mcr_rx_packets_total[1m]))"], [
      "out",
      "sum(rate(mcr_tx_packets_total[1m]))",
    ]],
  },
  {
    title: "Per rule",
    unit: "pps",
    exprs: [["{{rule}}", "sum by (rule) (rate(mcr_rule_packets_total[1m]))"]],
  },
  {
    title: "Loss",
    unit: "pps",
    exprs: [
      ["kernel drops", "sum(rate(mcr_kernel_drops_total[1m]))"],
      ["TX ring full", "sum(rate(mcr_tx_ring_full_total[1m]))"],
      ["TX errors", "sum(rate(mcr_tx_errors_total[1m]))"],
    ],
  },
  {
    title: "Drops by reason",
    unit: "pps",
    exprs: [["{{reason}}", "sum by (reason) (rate(mcr_drop_total[1m]))"]],
  },
  {
    title: "Residence time in the relay",
    unit: "s",
    exprs: [
      ["p50", "histogram_quantile(0.5, sum by (le) (rate(mcr_residence_seconds_bucket[1m])))"],
      ["p99", "histogram_quantile(0.99, sum by (le) (rate(mcr_residence_seconds_bucket[1m])))"],
    ],
  },
  { title: "Rule silence", unit: "s", exprs: [["{{rule}}", "mcr_rule_silent_seconds"]] },
  {
    title: "Workers",
    unit: "short",
    exprs: [["alive {{worker}}", "mcr_worker_alive"], [
      "restarts {{worker}}",
      "mcr_worker_restarts_total",
    ]],
  },
  { title: "Longest loop stall", unit: "s", exprs: [["{{worker}}", "mcr_loop_stall_seconds"]] },
  {
    title: "Process",
    unit: "bytes",
    exprs: [["resident memory", "process_resident_memory_bytes"], ["open fds", "process_open_fds"]],
  },
  { title: "Interfaces up", unit: "short", exprs: [["{{interface}}", "mcr_interface_up"]] },
];

export function dashboard(): Record<string, unknown> {
  return {
    title: "mcr multicast relay",
    uid: "mcr-relay",
    schemaVersion: 39,
    time: { from: "now-1h", to: "now" },
    refresh: "10s",
    templating: {
      list: [{ name: "datasource", type: "datasource", query: "prometheus", label: "Prometheus" }],
    },
    panels: PANELS.map((p, i) => ({
      id: i + 1,
      type: "timeseries",
      title: p.title,
      datasource: { type: "prometheus", uid: "${datasource}" },
      gridPos: { x: (i % 2) * 12, y: Math.floor(i / 2) * 8, w: 12, h: 8 },
      fieldConfig: { defaults: { unit: p.unit }, overrides: [] },
      targets: p.exprs.map(([legend, expr], k) => ({
        refId: String.fromCharCode(65 + k),
        expr,
        legendFormat: legend,
      })),
    })),
  };
}

if (import.meta.main) {
  const out = new URL("./mcr-grafana.json", import.meta.url);
  Deno.writeTextFileSync(out, JSON.stringify(dashboard(), null, 2) + "\n");
  console.log(`wrote ${out.pathname}`);
}
