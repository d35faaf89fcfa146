/**
 * Where the relay core's microseconds go, per relay, at one rate: CPU 1
 * (the relay's core, its input's receive processing steered there) is
 * sampled with `perf record -e cpu-clock -g` (Debian's linux-perf; this VM
 * has no hardware PMU, so software clock samples) while a chain topology
 * carries PROFILE_COUNT datagrams of PROFILE_SIZE bytes at PROFILE_PPS.
 * Each sample is put in one bucket by its call chain:
 *
 *   IPI           the interrupt a TX kick sends to wake the receiver's CPU
 *                 (net_rps_send_ipi: on this VM a write to the x2APIC, which
 *                 exits to the hypervisor)
 *   kernel TX     the rest under packet_sendmsg (the TX kick: tpacket_snd,
 *                 veth_xmit, the receiver's softirq run in the sender's context)
 *   kernel RX     under net_rx_action / the backlog (input frames into the RX ring)
 *   wait/wake     under io_uring_enter or poll not sending (arming, sleeping, waking)
 *   scheduler     context switches and wake-ups outside the above
 *   other kernel  every other kernel path
 *   JS            the TypeScript loop (V8's JIT code; --perf-basic-prof names it)
 *   runtime       deno/V8 native code, libc, libmcr, liburing
 *
 * and shown as µs per relayed packet (busy samples x sampling period /
 * packets). The relay's own counters give batches (wake-ups that found
 * work), kicks and loop turns per packet; /proc/interrupts gives the
 * function-call interrupts (IPIs) CPU 0, the receiver's, took per packet. mcr runs
 * with DENO_V8_FLAGS=
 * --perf-basic-prof so that JIT frames have names.
 *
 * Each relay is profiled twice: writing to the veth of the receiver (whose
 * processing is steered to CPU 0, so a kick wakes that CPU) and writing to
 * a device that discards what it is sent (run.ts addDiscard: a kick wakes
 * no other CPU, as on a NIC). "mcr-frames" is the default before naps
 * (nap_us: 0, a wake-up and a kick per packet while the loop keeps up);
 * "cref-v2" the C loop woken per packet (a TPACKET_V2 ring), mcr-frames' design;
 * "cref-nap" that loop napping 50 µs after every turn with packets: the C loop at
 * the median latency of mcr's default (run.ts).
 *
 *   deno run --allow-all bench/profile_bench.ts
 *   PROFILE_RELAYS=mcr,mcr-frames,mcr-blocks,cref,cref-v2,cref-nap PROFILE_OUTPUTS=veth,discard
 *   PROFILE_PPS=50000 PROFILE_SIZE=1024 PROFILE_COUNT=250000
 *   PROFILE_OUT=profile_before   (file base name in bench/results/)
 *
 * Writes bench/results/<PROFILE_OUT>.md. A benchmark: it asserts nothing.
 */
import { chooseRelays, discardUnavailable, runOne } from "./run.ts";

type Relay = "mcr" | "mcr-frames" | "mcr-blocks" | "mcr-busy" | "cref" | "cref-v2" | "cref-nap";
const env = (k: string, d: number) => Number(Deno.env.get(k) ?? d);
const PPS = env("PROFILE_PPS", 50_000);
const SIZE = env("PROFILE_SIZE", 1024);
const COUNT = env("PROFILE_COUNT", 250_000);
const relays = chooseRelays<Relay>(Deno.env.get("PROFILE_RELAYS"), [
  "mcr",
  "mcr-frames",
  "mcr-blocks",
  "cref",
  "cref-v2",
  "cref-nap",
]);
const outputs = (Deno.env.get("PROFILE_OUTPUTS") ?? "veth,discard").split(",");
const base = Deno.env.get("PROFILE_OUT") ?? "profile";
const results = new URL("./results/", import.meta.url).pathname;
/** perf's default cpu-clock sampling frequency (Hz): each sample stands for 1/freq seconds. */
const BUCKETS = [
  "IPI",
  "kernel TX",
  "kernel RX",
  "wait/wake",
  "scheduler",
  "other kernel",
  "JS",
  "runtime",
];

/** One sample's bucket from its comm, call chain (innermost first) and the DSO of its leaf. */
function bucketOf(comm: string, frames: { sym: string; dso: string }[]): string | null {
  const syms = frames.map((f) => f.sym);
  const has = (re: RegExp) => syms.some((s) => re.test(s));
  if (has(/^(packet_sendmsg|tpacket_snd)$/)) {
    return has(/^(net_rps_send_ipi|x2apic_send_IPI)$/) ? "IPI" : "kernel TX";
  }
  if (has(/^(net_rx_action|process_backlog|__netif_receive_skb)/)) return "kernel RX";
  if (comm === "swapper" || has(/^(do_idle|cpuidle_enter|default_idle_call)$/)) {
    // The idle loop itself is not busy time; what interrupts it is counted above.
    return has(/^(schedule_idle|__schedule)$/) && !has(/halt|mwait/) ? "scheduler" : null;
  }
  if (has(/io_uring_enter|io_cqring_wait|do_sys_poll|__x64_sys_poll|do_epoll_wait/)) {
    return "wait/wake";
  }
  if (has(/^(__schedule|schedule|try_to_wake_up|finish_task_switch)/)) return "scheduler";
  const leaf = frames[0];
  if (!leaf) return "other kernel";
  if (leaf.dso.includes("kernel")) return "other kernel";
  if (
    /perf-\d+\.map|JIT/.test(leaf.dso) || leaf.sym.startsWith("JS:") ||
    leaf.sym.startsWith("LazyCompile")
  ) {
    return "JS";
  }
  return "runtime";
}

/** Busy samples per bucket from `perf script` of a recording of CPU 1. */
async function breakdown(file: string): Promise<{ counts: Record<string, number>; total: number }> {
  const out = await new Deno.Command("perf", {
    args: ["script", "-i", file, "-F", "comm,ip,sym,dso"],
    stdout: "piped",
    stderr: "null",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const counts: Record<string, number> = Object.fromEntries(BUCKETS.map((b) => [b, 0]));
  let total = 0;
  for (const sample of text.split("\n\n")) {
    const lines = sample.split("\n").filter((l) => l.trim() !== "");
    if (lines.length === 0) continue;
    const comm = lines[0].trim().split(/\s+/)[0];
    const frames = lines.slice(1).map((l) => {
      const m = l.trim().match(/^[0-9a-f]+\s+(.*?)\s+\((.*)\)$/);
      return m ? { sym: m[1].replace(/\+0x[0-9a-f]+$/, ""), dso: m[2] } : { sym: "", dso: "" };
    });
    const b = bucketOf(comm, frames);
    if (b === null) continue;
    counts[b]++;
    total++;
  }
  return { counts, total };
}

/** Function-call interrupts (IPIs) each CPU has taken, from /proc/interrupts. */
async function callInterrupts(): Promise<number[]> {
  const text = await Deno.readTextFile("/proc/interrupts");
  const row = text.split("\n").find((l) => l.trim().startsWith("CAL:")) ?? "";
  return row.trim().split(/\s+/).slice(1).map(Number).filter((n) => Number.isFinite(n));
}

/** Why perf cannot sample here, or null: without it the profile is skipped, not failed. */
async function perfMissing(): Promise<string | null> {
  try {
    const o = await new Deno.Command("perf", {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    })
      .output();
    return o.success ? null : "perf --version failed";
  } catch (e) {
    return `perf is not installed (Debian: linux-perf): ${(e as Error).message}`;
  }
}
const missing = await perfMissing();
if (missing !== null) {
  console.error(`profile: skipped: ${missing}`);
  Deno.exit(0);
}

// The discarding output is an ifb device: a kernel without it is profiled on the veth only.
const noDiscard = outputs.includes("discard") ? await discardUnavailable() : null;
if (noDiscard !== null) console.error(`profile: discarding output skipped: ${noDiscard}`);
const rows: string[] = [];
// --perf-basic-prof names JIT frames for perf; V8 would also write a log per isolate into the cwd.
Deno.env.set("DENO_V8_FLAGS", "--perf-basic-prof,--logfile=/dev/null,--no-logfile-per-isolate");
for (const output of outputs.filter((o) => o !== "discard" || noDiscard === null)) {
  for (const relay of relays) {
    const file = await Deno.makeTempFile({ prefix: "mcr-perf-", suffix: ".data" });
    const ipiBefore = await callInterrupts();
    const row = await runOne("profile", relay === "mcr-frames" ? "mcr" : relay, 0, {
      count: COUNT,
      rate: PPS,
      size: SIZE,
      perfFile: file,
      discardOut: output === "discard",
      mcrConfig: relay === "mcr-frames" ? "ring: { nap_us: 0 }" : undefined,
    });
    const ipiAfter = await callInterrupts();
    const ipiToCpu0 = (ipiAfter[0] ?? 0) - (ipiBefore[0] ?? 0);
    const { counts, total } = await breakdown(file);
    await Deno.remove(file).catch(() => {});
    const delivered = row.delivered || 1;
    // Samples stand for equal slices of CPU 1's busy time (/proc/stat), shared by bucket.
    const busyUs = (row.cpu_ns_per_pkt ?? 0) / 1000;
    const per = (n: number) => total > 0 ? (busyUs * n / total).toFixed(2) : "-";
    const c = row.relay_counters ?? {};
    // The C loop's batches: its wake-ups from poll() and its naps (cref-nap).
    const batches = c.rx_blocks ?? (c.wakeups ?? 0) + (c.naps ?? 0);
    const kicks = c.tx_kicks ?? c.kicks ?? 0;
    rows.push(
      `| ${relay} | ${output} | ${row.loss_pct} | ${busyUs.toFixed(2)} | ${
        BUCKETS.map((b) => per(counts[b])).join(" | ")
      } | ${(batches / delivered).toFixed(3)} | ${(kicks / delivered).toFixed(3)} | ${
        (ipiToCpu0 / delivered).toFixed(3)
      } | ${total} |`,
    );
    console.error(JSON.stringify({ relay, output, busyUs, counts, total, counters: c }));
  }
}
const table = [
  `Measured ${
    new Date().toISOString().slice(0, 10)
  }: chain, ${SIZE} B at ${PPS} pps, ${COUNT} datagrams; ` +
  "µs per relayed packet of CPU 1's busy time, split by perf call chains.",
  "",
  `| relay | output | loss % | relay core µs/pkt | ${
    BUCKETS.join(" | ")
  } | batches/pkt | kicks/pkt | IPIs to CPU 0/pkt | samples |`,
  `|---|---|---:|---:|${BUCKETS.map(() => "---:").join("|")}|---:|---:|---:|---:|`,
  ...rows,
  "",
  ...(noDiscard === null ? [] : [`No discarding-output rows: ${noDiscard}.`, ""]),
].join("\n");
Deno.writeTextFileSync(`${results}${base}.md`, table);
console.log(table);
