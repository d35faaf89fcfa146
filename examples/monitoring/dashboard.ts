/**
 * Writes examples/monitoring/mcr-grafana.json, a Grafana dashboard over mcr's
 * /metrics (Prometheus data source chosen at import):
 *
 *   deno run --allow-write examples/monitoring/dashboard.ts
 *
 * For a fleet: `job` and `instance` variables (multi-select, "All" by
 * default) filter every query, and panels that sum keep `instance` apart.
 * Rates use Grafana's `$__rate_interval`. Every query names families the
 * exporter serves (checked by a test).
 */
interface Panel {
  title: string;
  unit: string;
  /** [legend, expression]; SEL stands for the job/instance selector. */
  exprs: [string, string][];
}

/** The selector every query carries, written where an expression says SEL. */
const SEL = 'job=~"$job", instance=~"$instance"';
const R = "$__rate_interval";

const PANELS: Panel[] = [
  {
    title: "Packets in / out",
    unit: "pps",
    exprs: [
      ["in {{instance}}", `sum by (instance) (rate(mcr_rx_packets_total{SEL}[${R}]))`],
      ["out {{instance}}", `sum by (instance) (rate(mcr_tx_packets_total{SEL}[${R}]))`],
    ],
  },
  {
    title: "Per rule",
    unit: "pps",
    exprs: [[
      "{{rule}} {{instance}}",
      `sum by (instance, rule) (rate(mcr_rule_packets_total{SEL}[${R}]))`,
    ]],
  },
  {
    title: "Per output",
    unit: "pps",
    exprs: [[
      "{{rule}} → {{output}} {{instance}}",
      `sum by (instance, rule, output) (rate(mcr_output_packets_total{SEL}[${R}]))`,
    ]],
  },
  {
    title: "Output losses (refused, too big, TTL, ring full)",
    unit: "pps",
    exprs: [
      [
        "{{rule}} → {{output}} refused",
        `sum by (instance, rule, output) (rate(mcr_output_errors_total{SEL}[${R}])) > 0`,
      ],
      [
        "{{rule}} → {{output}} too big",
        `sum by (instance, rule, output) (rate(mcr_output_too_big_total{SEL}[${R}])) > 0`,
      ],
      [
        "{{rule}} → {{output}} TTL",
        `sum by (instance, rule, output) (rate(mcr_output_ttl_expired_total{SEL}[${R}])) > 0`,
      ],
      [
        "{{rule}} → {{output}} ring full",
        `sum by (instance, rule, output) (rate(mcr_output_ring_full_total{SEL}[${R}])) > 0`,
      ],
    ],
  },
  {
    title: "Loss",
    unit: "pps",
    exprs: [
      ["kernel drops {{instance}}", `sum by (instance) (rate(mcr_kernel_drops_total{SEL}[${R}]))`],
      ["TX ring full {{instance}}", `sum by (instance) (rate(mcr_tx_ring_full_total{SEL}[${R}]))`],
      ["TX errors {{instance}}", `sum by (instance) (rate(mcr_tx_errors_total{SEL}[${R}]))`],
    ],
  },
  {
    title: "Drops by reason",
    unit: "pps",
    exprs: [[
      "{{reason}} {{instance}}",
      `sum by (instance, reason) (rate(mcr_drop_total{SEL}[${R}]))`,
    ]],
  },
  {
    title: "Residence time in the relay",
    unit: "s",
    exprs: [
      [
        "p50 {{instance}}",
        `histogram_quantile(0.5, sum by (instance, le) (rate(mcr_residence_seconds_bucket{SEL}[${R}])))`,
      ],
      [
        "p99 {{instance}}",
        `histogram_quantile(0.99, sum by (instance, le) (rate(mcr_residence_seconds_bucket{SEL}[${R}])))`,
      ],
    ],
  },
  {
    title: "Rule silence",
    unit: "s",
    exprs: [["{{rule}} {{instance}}", "mcr_rule_silent_seconds{SEL}"]],
  },
  {
    title: "Stream and merge health (0 ok, 1 warning, 2 critical)",
    unit: "short",
    exprs: [
      ["stream {{rule}} {{instance}}", "mcr_stream_state{SEL}"],
      ["merge {{rule}} {{instance}}", "mcr_merge_state{SEL}"],
    ],
  },
  {
    title: "Workers",
    unit: "short",
    exprs: [
      ["alive {{worker}} {{instance}}", "mcr_worker_alive{SEL}"],
      ["restarts {{worker}} {{instance}}", "mcr_worker_restarts_total{SEL}"],
    ],
  },
  {
    title: "Longest loop stall",
    unit: "s",
    exprs: [["{{worker}} {{instance}}", "mcr_loop_stall_seconds{SEL}"]],
  },
  {
    title: "Resident memory",
    unit: "bytes",
    exprs: [["{{instance}}", "process_resident_memory_bytes{SEL}"]],
  },
  {
    title: "Open file descriptors",
    unit: "short",
    exprs: [["{{instance}}", "process_open_fds{SEL}"]],
  },
  {
    title: "Interfaces up",
    unit: "short",
    exprs: [["{{interface}} {{instance}}", "mcr_interface_up{SEL}"]],
  },
];

/** A multi-select query variable over a label of mcr_build_info (every relay serves it). */
function labelVariable(name: string, query: string) {
  return {
    name,
    label: name,
    type: "query",
    datasource: { type: "prometheus", uid: "${datasource}" },
    query: { query, refId: `${name}-values` },
    definition: query,
    refresh: 2,
    multi: true,
    includeAll: true,
    allValue: ".*",
    current: { text: ["All"], value: ["$__all"] },
    sort: 1,
  };
}

export function dashboard(): Record<string, unknown> {
  return {
    title: "mcr multicast relay",
    uid: "mcr-relay",
    schemaVersion: 39,
    time: { from: "now-1h", to: "now" },
    refresh: "10s",
    templating: {
      list: [
        { name: "datasource", type: "datasource", query: "prometheus", label: "Prometheus" },
        labelVariable("job", "label_values(mcr_build_info, job)"),
        labelVariable("instance", 'label_values(mcr_build_info{job=~"$job"}, instance)'),
      ],
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
        expr: expr.replaceAll("SEL", SEL),
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
