/**
 * Scale: a relay holding many rules (one group each, on one input interface),
 * measured from outside, at 1,000 and 10,000 rules in one run
 * (SCALE_RULES="1000,10000"):
 *  - start-up (process start to "API listening"), idle CPU of the whole
 *    process over 30 s (% of one core) and resident memory, from 40 s after
 *    start (the steady state: past the start-up's garbage collections),
 *  - SCALE_CHANGES (40) rules added and removed one at a time over the API,
 *    each acknowledged only once applied and persisted: p50 and p99,
 *  - GET /metrics alone and five at once, resident memory after the scrapes,
 *  - GET /health, /api/v1/version, /api/v1/workers, /api/v1/stats (each read
 *    alone: the median of five),
 *  - a bulk add of 5,000 rules in one POST /api/v1/rules:batch, and their
 *    bulk removal.
 * Request times are curl's own (%{time_total}: no process start in them).
 *
 *   deno run --allow-all bench/scale_bench.ts
 *
 * Writes bench/results/scale.json and bench/results/scale.md; the table puts
 * each figure beside the same bench's figures before the change
 * (bench/results/scale_before.json, written by SCALE_OUT=before) and the
 * target. A benchmark, not a test: nothing here asserts a duration.
 */
import { withTopology } from "../src/tools/topology.ts";
import { startRelayListening } from "./start_relay.ts";
import { numberedRule, numberedRulesYaml } from "../src/tools/many_rules.ts";

const counts = (Deno.env.get("SCALE_RULES") ?? "1000,10000").split(",").map(Number);
const changes = Number(Deno.env.get("SCALE_CHANGES") ?? 40);
const BULK = 5000;
const API = "http://127.0.0.1:8787";
const results = new URL("./results/", import.meta.url).pathname;
/** SCALE_OUT=before: the figures before a change; SCALE_OUT=lowmem: a run with MCR_BENCH_V8_FLAGS set. */
const label = Deno.env.get("SCALE_OUT") === "before"
  ? "scale_before"
  : Deno.env.get("SCALE_OUT") === "lowmem"
  ? "scale_lowmem"
  : "scale";
const CLK_TCK = 100;

function cpuTicks(pid: number): number {
  const f = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1].split(" ");
  return Number(f[11]) + Number(f[12]); // utime + stime (fields 14, 15)
}
function rssMiB(pid: number): number {
  const m = Deno.readTextFileSync(`/proc/${pid}/status`).match(/VmRSS:\s+(\d+) kB/);
  return m ? Math.round(Number(m[1]) / 1024) : 0;
}
function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Figures = Record<string, number | string | null>;

async function measure(count: number): Promise<Figures> {
  let figures: Figures = {};
  await withTopology(async (t) => {
    const n = await t.chain();
    const dir = Deno.makeTempDirSync();
    Deno.writeTextFileSync(`${dir}/mcr.yaml`, numberedRulesYaml(count, n.relayIn, n.relayOut), {
      mode: 0o600,
    });
    const started = performance.now();
    const relay = await startRelayListening(t, n.relay, `${dir}/mcr.yaml`);
    const startupS = (performance.now() - started) / 1000;
    const pid = relay.pid; // `ip netns exec` execs mcr: the child's pid is the relay's
    /** One request: curl's status, body size and own time (ms). */
    const curl = async (args: string[]) => {
      const r = await t.run(n.relay, [
        "curl",
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code} %{size_download} %{time_total}",
        ...args,
      ], 120_000);
      const [status, bytes, secs] = r.stdout.trim().split(" ");
      return { status: Number(status), bytes: Number(bytes), ms: Number(secs) * 1000 };
    };
    const postJson = (path: string, file: string) =>
      curl([
        "-X",
        "POST",
        "-H",
        "content-type: application/json",
        "--data-binary",
        `@${file}`,
        `${API}${path}`,
      ]);
    // Idle and resident memory in the steady state: past the start-up's garbage collections
    // (V8's memory reducer starts up to 30 s after a busy start), over 30 s.
    await sleep(40_000);
    const rssStart = rssMiB(pid);
    const c0 = cpuTicks(pid);
    const w0 = performance.now();
    await sleep(30_000);
    const idle = ((cpuTicks(pid) - c0) / CLK_TCK) / ((performance.now() - w0) / 1000) * 100;

    const adds: number[] = [];
    const removes: number[] = [];
    let refused = 0;
    for (let k = 0; k < changes; k++) {
      const file = `${dir}/one.json`;
      Deno.writeTextFileSync(
        file,
        JSON.stringify(numberedRule(60_000 + k, `added${k}`, n.relayIn, n.relayOut)),
      );
      const add = await postJson("/api/v1/rules", file);
      const remove = await curl(["-X", "DELETE", `${API}/api/v1/rules/added${k}`]);
      if (add.status !== 201 || remove.status !== 200) refused++;
      adds.push(add.ms);
      removes.push(remove.ms);
    }

    /** Five requests one after another: the median time (single requests are noisy here). */
    const median5 = async (path: string) => {
      const runs = [];
      for (let k = 0; k < 5; k++) runs.push(await curl([`${API}${path}`]));
      return { ...runs[4], ms: quantile(runs.map((r) => r.ms), 0.5) };
    };
    const metrics = await median5("/metrics");
    const five = await Promise.all(Array.from({ length: 5 }, () => curl([`${API}/metrics`])));
    const rssScrapes = rssMiB(pid);
    const health = await median5("/health");
    const version = await median5("/api/v1/version");
    const workers = await median5("/api/v1/workers");
    const stats = await median5("/api/v1/stats");

    const bulkFile = `${dir}/bulk.json`;
    const bulkNames = Array.from({ length: BULK }, (_, i) => `bulk${i}`);
    Deno.writeTextFileSync(
      bulkFile,
      JSON.stringify({
        add: bulkNames.map((name, i) => numberedRule(100_000 + i, name, n.relayIn, n.relayOut)),
      }),
    );
    const bulkAdd = await postJson("/api/v1/rules:batch", bulkFile);
    Deno.writeTextFileSync(bulkFile, JSON.stringify({ remove: bulkNames }));
    const bulkRemove = bulkAdd.status === 200
      ? await postJson("/api/v1/rules:batch", bulkFile)
      : null;
    const rssEnd = rssMiB(pid);

    relay.kill("SIGTERM");
    await relay.status;
    Deno.removeSync(dir, { recursive: true });
    const r1 = (x: number) => Math.round(x * 10) / 10;
    figures = {
      rules: count,
      startup_s: r1(startupS),
      idle_cpu_pct: Math.round(idle * 100) / 100,
      rss_start_mib: rssStart,
      add_p50_ms: r1(quantile(adds, 0.5)),
      add_p99_ms: r1(quantile(adds, 0.99)),
      remove_p50_ms: r1(quantile(removes, 0.5)),
      remove_p99_ms: r1(quantile(removes, 0.99)),
      changes_refused: refused,
      metrics_ms: r1(metrics.ms),
      metrics_mb: r1(metrics.bytes / 1e6),
      metrics_5_concurrent_max_ms: r1(Math.max(...five.map((f) => f.ms))),
      rss_after_scrapes_mib: rssScrapes,
      health_ms: r1(health.ms),
      health_bytes: health.bytes,
      version_ms: r1(version.ms),
      workers_ms: r1(workers.ms),
      stats_ms: r1(stats.ms),
      bulk_add_5000_ms: bulkAdd.status === 200 ? r1(bulkAdd.ms) : null,
      bulk_add_status: bulkAdd.status,
      bulk_remove_5000_ms: bulkRemove?.status === 200 ? r1(bulkRemove.ms) : null,
      rss_end_mib: rssEnd,
    };
  });
  return figures;
}

/** Each row: figure, how it is judged, and the target. */
const ROWS: [string, string, string][] = [
  ["add_p50_ms", "add one rule (applied + persisted), p50 ms", "≤ 100"],
  ["add_p99_ms", "add one rule, p99 ms", "≤ 250"],
  ["remove_p50_ms", "remove one rule, p50 ms", "≤ 100"],
  ["remove_p99_ms", "remove one rule, p99 ms", "≤ 250"],
  ["metrics_ms", "GET /metrics, ms (median of 5)", "≤ 250"],
  ["metrics_mb", "GET /metrics, MB", ""],
  ["metrics_5_concurrent_max_ms", "5 concurrent scrapes, slowest, ms", "≤ 1000"],
  ["health_ms", "GET /health, ms", "≤ 50"],
  ["health_bytes", "GET /health, bytes", "bounded"],
  ["version_ms", "GET /api/v1/version, ms", "O(1)"],
  ["workers_ms", "GET /api/v1/workers, ms", "O(1)"],
  ["stats_ms", "GET /api/v1/stats, ms", ""],
  ["rss_start_mib", "RSS 40 s after start-up, MiB", "≤ 300"],
  ["rss_after_scrapes_mib", "RSS after 10 scrapes, MiB", "≤ 300, flat"],
  ["startup_s", "start-up, s", "≤ 3"],
  ["idle_cpu_pct", "idle (40-70 s after start), % of a core", "≤ 2"],
  ["bulk_add_5000_ms", "bulk add of 5,000 rules (one change), ms", "one change"],
  ["bulk_remove_5000_ms", "bulk removal of the 5,000, ms", ""],
];

function table(now: Figures[], before: Figures[]): string {
  const at = (list: Figures[], count: number, key: string) => {
    const v = list.find((f) => f.rules === count)?.[key];
    return v === undefined || v === null ? "–" : String(v);
  };
  const head = counts.flatMap((c) => [`before, ${c}`, `now, ${c}`]);
  const lines = [
    `| figure | ${head.join(" | ")} | target |`,
    `|---|${head.map(() => "---").join("|")}|---|`,
  ];
  for (const [key, what, target] of ROWS) {
    const cells = counts.flatMap((c) => [at(before, c, key), at(now, c, key)]);
    lines.push(`| ${what} | ${cells.join(" | ")} | ${target} |`);
  }
  return lines.join("\n") + "\n";
}

// SCALE_TABLE_ONLY=1: the table again from the figures on record, nothing measured.
const tableOnly = Deno.env.get("SCALE_TABLE_ONLY") === "1";
const now: Figures[] = tableOnly ? JSON.parse(Deno.readTextFileSync(`${results}scale.json`)) : [];
for (const count of tableOnly ? [] : counts) {
  const f = await measure(count);
  console.log(JSON.stringify(f));
  now.push(f);
}
if (!tableOnly) {
  Deno.writeTextFileSync(`${results}${label}.json`, JSON.stringify(now, null, 2) + "\n");
}
let before: Figures[] = [];
try {
  before = JSON.parse(Deno.readTextFileSync(`${results}scale_before.json`));
} catch {
  // no earlier figures: the "before" columns stay empty
}
if (label === "scale") {
  const md = `# Scale (bench/scale_bench.ts, ${new Date().toISOString().slice(0, 10)})\n\n` +
    `${changes} single-rule changes per size; "before": the same bench on the code before ` +
    `the change (bench/results/scale_before.json).\n\n` + table(now, before);
  Deno.writeTextFileSync(`${results}scale.md`, md);
  console.log(md);
}
