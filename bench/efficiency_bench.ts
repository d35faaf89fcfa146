/**
 * The efficiency targets side by side in one run (issue "fast and frugal at
 * every rate"): every figure beside the native C reference relay on the same
 * rings (c/ref/ref_relay.c) and socat, on the chain topology, scored at the
 * receiver. Relay CPU is the relay core's busy time (cpuidle-exact, see
 * run.ts) per packet delivered; "process" is the relay's own threads.
 *
 *   deno run --allow-all bench/efficiency_bench.ts      (about 20 minutes)
 *   EFF_REPS=3 EFF_SECTIONS=cpu,discard,latency,capacity,switch,fanout,budget
 *   EFF_OUT=efficiency   (file base name in bench/results/)
 *
 * mcr rows: "mcr" is the default (frames ring with adaptive naps, nap_us 50);
 * "mcr-frames" the same ring woken per packet always (nap_us: 0);
 * "mcr-blocks" the TPACKET_V3 ring; "mcr-rt" the default with worker_priority: 10
 * (SCHED_FIFO workers). C rows: "cref" is the C loop on a
 * TPACKET_V3 ring (woken per retired block, 1 ms); "cref-v2" the same loop on
 * a TPACKET_V2 ring, woken per packet (mcr-frames' design); "cref-nap" that
 * loop napping 50 µs after every turn with packets (run.ts): the C loop at the
 * median latency of mcr's default. The last column puts each mcr row beside the
 * C loop of its latency.
 * "kernel" is the kernel's own forwarding where the kernel can forward
 * multicast. The "discard" section writes to a device that discards what it
 * is sent (no receiver on this machine to wake per kick, as with a NIC).
 * Writes bench/results/<EFF_OUT>.md.
 * A benchmark: it prints what it measured, including targets missed.
 */
import { chooseRelays, discardUnavailable, type Row, runOne } from "./run.ts";
import { kernelCapabilities } from "../src/tools/kernel_probe.ts";
import { DEFAULT_NAP_US } from "../src/supervisor/ring_geometry.ts";

type Kind =
  | "mcr"
  | "mcr-frames"
  | "mcr-blocks"
  | "mcr-rt"
  | "cref"
  | "cref-v2"
  | "cref-nap"
  | "socat"
  | "kernel";
const REPS = Number(Deno.env.get("EFF_REPS") ?? 3);
const sections = (
  Deno.env.get("EFF_SECTIONS") ?? "cpu,discard,latency,capacity,switch,fanout,budget"
).split(",");
const relays = chooseRelays<Kind>(Deno.env.get("EFF_RELAYS"), [
  "mcr",
  "mcr-frames",
  "mcr-blocks",
  "mcr-rt",
  "cref",
  "cref-v2",
  "cref-nap",
  "socat",
  "kernel",
]);

/** The C loop at each mcr mode's latency (same ring and wake-up design): how close mcr comes to it. */
const AT_LATENCY: Partial<Record<Kind, Kind>> = {
  "mcr": "cref-nap",
  "mcr-rt": "cref-nap",
  "mcr-frames": "cref-v2",
  "mcr-blocks": "cref",
};
const out: string[] = [`# Efficiency, measured ${new Date().toISOString().slice(0, 10)}`, ""];
if (!relays.includes("kernel")) {
  const why = kernelCapabilities().ip_mroute;
  out.push(`No kernel forwarding rows: ${why.ok ? "not asked for" : why.reason}.`, "");
}

/** One row of a kind; mcr-frames is mcr with naps off, mcr-rt mcr with worker_priority: 10. */
function run(kind: Kind, o: Parameters<typeof runOne>[3]): Promise<Row> {
  if (kind === "mcr-frames") {
    return runOne("eff", "mcr", 0, { ...o, mcrConfig: "ring: { nap_us: 0 }" });
  }
  if (kind === "mcr-rt") return runOne("eff", "mcr", 0, { ...o, mcrConfig: "worker_priority: 10" });
  return runOne("eff", kind, 0, o);
}

const us = (ns: number | null | undefined) =>
  ns === null || ns === undefined ? "-" : (ns / 1000).toFixed(2);
const range = (xs: number[]) => {
  const s = xs.slice().sort((a, b) => a - b);
  return s.length === 0
    ? "-"
    : s.length === 1
    ? s[0].toFixed(2)
    : `${s[0].toFixed(2)}–${s.at(-1)!.toFixed(2)}`;
};
const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// 1. CPU per packet, chain, 1024 B at 50k pps, paired repetitions; "discard": the same
// load written to a device that discards it (no kernel forwarding or socat there).
for (const section of ["cpu", "discard"] as const) {
  if (!sections.includes(section)) continue;
  const discardOut = section === "discard";
  const kinds = relays.filter((k) => !discardOut || (k !== "kernel" && k !== "socat"));
  const rows = new Map<Kind, Row[]>();
  if (discardOut) {
    // The discarding device is an ifb: a kernel without it gets no rows, and the reason.
    const why = await discardUnavailable();
    if (why !== null) {
      out.push(`## CPU per packet, output to a discarding device: skipped (${why})`, "");
      continue;
    }
  }
  for (let rep = 0; rep < REPS; rep++) {
    for (const kind of kinds) {
      const r = await run(kind, { count: 100_000, rate: 50_000, size: 1024, discardOut });
      rows.set(kind, [...(rows.get(kind) ?? []), r]);
      console.error(
        `${section} ${kind} rep ${rep}: ${us(r.cpu_ns_per_pkt)} µs/pkt, loss ${r.loss_pct} %`,
      );
    }
  }
  const core = (k: Kind) => (rows.get(k) ?? []).map((r) => (r.cpu_ns_per_pkt ?? 0) / 1000);
  const proc = (k: Kind) =>
    (rows.get(k) ?? []).map((r) =>
      ((r.relay_user_ns_per_pkt ?? 0) + (r.relay_sys_ns_per_pkt ?? 0)) / 1000
    );
  out.push(
    discardOut
      ? `## CPU per packet, output to a discarding device (no receiver to wake): 1024 B at 50,000 pps, ${REPS} paired repetitions`
      : `## CPU per packet: chain, 1024 B at 50,000 pps, 100,000 datagrams, ${REPS} paired repetitions`,
    "",
    "| relay | loss % (max) | relay core µs/pkt | relay process µs/pkt | core vs C reference (median) | core vs the C loop at its latency (median) |",
    "|---|---:|---:|---:|---:|---:|",
  );
  const ref = core("cref").length ? median(core("cref")) : null;
  const design = (k: Kind) => {
    const c = AT_LATENCY[k] === undefined ? [] : core(AT_LATENCY[k]!);
    return c.length ? median(c) : null;
  };
  for (const k of kinds) {
    const c = core(k);
    const d = design(k);
    out.push(
      `| ${k} | ${Math.max(...(rows.get(k) ?? []).map((r) => r.loss_pct))} | ${range(c)} | ${
        range(proc(k))
      } | ${ref ? (median(c) / ref).toFixed(2) + "x" : "-"} | ${
        d ? `${(median(c) / d).toFixed(2)}x (${AT_LATENCY[k]})` : "-"
      } |`,
    );
  }
  if (rows.has("socat") && rows.has("mcr")) {
    out.push(
      "",
      `socat / mcr (relay core, medians): ${
        (median(core("socat")) / median(core("mcr"))).toFixed(2)
      }x (target ≥ 4); ` +
        `mcr / C reference: ${ref ? (median(core("mcr")) / ref).toFixed(2) : "-"}x (target ≤ 1.3).`,
    );
  }
  const nap = design("mcr");
  if (rows.has("mcr") && nap) {
    out.push(
      "",
      `mcr / the C loop at mcr's median latency (cref-nap: napping 50 µs after every turn ` +
        `with packets): ${(median(core("mcr")) / nap).toFixed(2)}x; that C loop / ` +
        `the block-woken C reference: ${ref ? (nap / ref).toFixed(2) : "-"}x.`,
    );
  }
  out.push("");
}

// 2. Latency at the receiver, 256 B: p50 / p99. Each relay twice: its first stream, 0.5 s after
// it started ("start"), and a stream after one second of the same traffic ("warm").
if (sections.includes("latency")) {
  out.push(
    "## Latency at the receiver, 256 B (µs)",
    "",
    '"start": the relay\'s first stream, begun 0.5 s after the relay started. "warm": the same',
    "stream after one second of the same traffic (not scored).",
    "",
    "| relay | offered pps | stream | p50 | p99 | max | relay core µs/pkt |",
    "|---|---:|---|---:|---:|---:|---:|",
  );
  for (const rate of [1_000, 20_000, 50_000]) {
    for (const kind of relays.filter((k) => k !== "socat")) {
      for (const warm of [false, true]) {
        const r = await run(kind, {
          count: Math.max(4000, rate * 4),
          rate,
          size: 256,
          warmup: warm ? Math.max(1000, rate) : 0,
        });
        out.push(
          `| ${kind} | ${rate} | ${warm ? "warm" : "start"} | ${r.latency_p50_us ?? "-"} | ${
            r.latency_p99_us ?? "-"
          } | ${r.latency_max_us ?? "-"} | ${us(r.cpu_ns_per_pkt)} |`,
        );
        console.error(
          `latency ${kind} ${rate} ${
            warm ? "warm" : "start"
          }: p50 ${r.latency_p50_us} p99 ${r.latency_p99_us}`,
        );
      }
    }
  }
  out.push(
    "",
    "Targets: p50 ≤ 100 µs at 1k pps and ≤ 60 µs at 20k and 50k pps; p99 ≤ 1 ms at all three.",
    "",
  );
}

// 3. Capacity: 150,000 pps of 256 B, 10 s, three runs.
if (sections.includes("capacity")) {
  out.push(
    "## Near capacity: 150,000 pps of 256 B, 10 s runs",
    "",
    "| relay | run | offered (generated) pps | loss % | relay core µs/pkt |",
    "|---|---:|---:|---:|---:|",
  );
  for (let rep = 0; rep < REPS; rep++) {
    for (const kind of relays.filter((k) => ["mcr", "mcr-rt", "mcr-blocks", "cref"].includes(k))) {
      const r = await run(kind, { count: 1_500_000, rate: 150_000, size: 256 });
      out.push(`| ${kind} | ${rep + 1} | ${r.gen_pps} | ${r.loss_pct} | ${us(r.cpu_ns_per_pkt)} |`);
      console.error(`capacity ${kind} ${rep}: loss ${r.loss_pct}`);
    }
  }
  out.push("", "Target: mcr's loss ≤ 0.5 % in each run.", "");
}

// 4. Where the switch happens: wake-ups, naps and kicks per packet by rate.
if (sections.includes("switch")) {
  out.push(
    "## Where the default switches from a wake-up per packet to naps (256 B)",
    "",
    "| offered pps | batches/pkt | naps/pkt | kicks/pkt | nap period µs | relay core µs/pkt | p50 µs | p99 µs |",
    "|---:|---:|---:|---:|---:|---:|---:|---:|",
  );
  for (const rate of [10_000, 30_000, 50_000, 80_000, 100_000, 150_000]) {
    const r = await run("mcr", { count: Math.max(20_000, rate * 3), rate, size: 256 });
    const c = r.relay_counters ?? {};
    const per = (v: number | undefined) => ((v ?? 0) / Math.max(1, r.delivered)).toFixed(3);
    // What a nap took on average (its kicks, the sleep, the host's lateness): what it can add to a packet.
    const period = c.loop_naps ? ((c.loop_nap_us ?? 0) / c.loop_naps).toFixed(0) : "-";
    out.push(
      `| ${rate} | ${per(c.rx_blocks)} | ${per(c.loop_naps)} | ${per(c.tx_kicks)} | ${period} | ${
        us(r.cpu_ns_per_pkt)
      } | ${r.latency_p50_us ?? "-"} | ${r.latency_p99_us ?? "-"} |`,
    );
  }
  out.push(
    "",
    `The default ring.nap_us is ${DEFAULT_NAP_US} µs: a nap period above it is the batch's kicks and the host's lateness.`,
    "",
  );
}

// 5. Fan-out 1:64 at 5,000 pps: one worker, and two workers sharing a spread rule.
if (sections.includes("fanout")) {
  out.push(
    "## Fan-out 1:64 at 5,000 pps of 256 B (320,000 copies/s), 25,000 datagrams",
    "",
    "| relay | workers | relay-side drops % of copies | worker 0 / worker 1 copies | relay process µs per copy |",
    "|---|---:|---:|---:|---:|",
  );
  for (
    const [kind, workers, spread, cpus] of [
      ["mcr", 1, false, "[1]"],
      ["mcr", 2, true, "[1, 0]"],
      ["cref", 1, false, ""],
    ] as const
  ) {
    if (!relays.includes(kind)) continue;
    const r = await runOne("eff-fanout", kind, 0, {
      count: 25_000,
      rate: 5_000,
      size: 256,
      outputs: 64,
      workers,
      spread,
      mcrConfig: cpus ? `worker_cpus: ${cpus}` : undefined,
    });
    const c = r.relay_counters ?? {};
    const sent = c.tx_sent ?? c.tx ?? 0;
    const copies = sent + (c.tx_ring_full ?? 0) + (c.tx_errors ?? 0);
    const drops = (c.kernel_drops ?? c.tp_drops ?? 0) + (c.tx_ring_full ?? 0) + (c.tx_errors ?? 0);
    const processUs = ((r.relay_user_ns_per_pkt ?? 0) + (r.relay_sys_ns_per_pkt ?? 0)) / 1000 / 64;
    out.push(
      `| ${kind} | ${workers} | ${(100 * drops / Math.max(1, copies)).toFixed(3)} | ${
        c.worker0_tx_sent !== undefined ? `${c.worker0_tx_sent} / ${c.worker1_tx_sent ?? 0}` : "-"
      } | ${processUs.toFixed(2)} |`,
    );
  }
  out.push(
    "",
    "Target: with 2 workers, relay-side drops ≤ 0.1 % and each worker writing 40–60 % of the copies.",
    "",
  );
}

// 6. The price of latency: the nap period (ring.nap_us, the most a packet waits for its
// batch while packets come fast) against CPU per packet, at the CPU section's load.
if (sections.includes("budget")) {
  out.push(
    "## Latency bought with CPU: ring.nap_us at 50,000 pps of 1024 B, 100,000 datagrams",
    "",
    "| relay | nap_us | p50 µs | p99 µs | kicks/pkt | relay core µs/pkt | core vs C reference |",
    "|---|---:|---:|---:|---:|---:|---:|",
  );
  const load = { count: 100_000, rate: 50_000, size: 1024 };
  const ref = relays.includes("cref") ? await runOne("eff-budget", "cref", 0, load) : null;
  const refUs = ref?.cpu_ns_per_pkt ? ref.cpu_ns_per_pkt / 1000 : null;
  const ratio = (r: Row) =>
    refUs && r.cpu_ns_per_pkt ? `${(r.cpu_ns_per_pkt / 1000 / refUs).toFixed(2)}x` : "-";
  const perPkt = (r: Row, v: number | undefined) =>
    ((v ?? 0) / Math.max(1, r.delivered)).toFixed(3);
  for (const nap of [50, 100, 200, 400]) {
    const r = await runOne("eff-budget", "mcr", 0, {
      ...load,
      mcrConfig: `ring: { nap_us: ${nap} }`,
    });
    const c = r.relay_counters ?? {};
    out.push(
      `| mcr | ${nap} | ${r.latency_p50_us ?? "-"} | ${r.latency_p99_us ?? "-"} | ${
        perPkt(r, c.tx_kicks)
      } | ${us(r.cpu_ns_per_pkt)} | ${ratio(r)} |`,
    );
  }
  if (ref) {
    const c = ref.relay_counters ?? {};
    out.push(
      `| cref | - | ${ref.latency_p50_us ?? "-"} | ${ref.latency_p99_us ?? "-"} | ${
        perPkt(ref, c.kicks)
      } | ${us(ref.cpu_ns_per_pkt)} | 1.00x |`,
    );
  }
  out.push(
    "",
    "Each TX kick costs about the same whatever it carries (on this VM mostly the IPI that wakes",
    "the receiver's CPU: see profile.md), so CPU per packet follows kicks per packet.",
    "",
  );
}

const text = out.join("\n");
const base = Deno.env.get("EFF_OUT") ?? "efficiency";
Deno.writeTextFileSync(new URL(`./results/${base}.md`, import.meta.url).pathname, text + "\n");
console.log(text);
