/**
 * Side-by-side relay benchmark: mcr, socat and the kernel's own multicast
 * forwarding (smcroute static route), interleaved, on one machine, scored
 * at a receiver in its own namespace (never by a relay's own counters).
 *
 *   make bench                         # everything below
 *   QUICK=1 make bench                 # one repetition, short sweeps
 *   PACKET_COUNT=... SEND_RATE=... PACKET_SIZE=... REPS=... make bench
 *   WORKLOADS=seed-chain RELAYS=mcr,socat make bench   # a subset
 *                                      (seed-chain, seed-bridge, sweep, fanout, workers)
 *
 * CPU: the relay is pinned to CPU 1 with its receive processing steered
 * there (RPS on its input interface); for mcr that is its worker thread
 * (worker_cpus: [1]), its supervisor and runtime helper threads run on CPU
 * 0. Generator and receiver run on CPU 0 and the receiver's processing is
 * steered to CPU 0. The relay's cost per
 * forwarded packet is CPU 1's busy time (user + system + softirq, from
 * /proc/stat) over the run divided by packets delivered — the same measure
 * for a userspace relay and for the kernel forwarding in softirq.
 * Every row is written as a raw JSON line to bench/results/latest.jsonl.
 */
import { renderChart } from "./chart.ts";
import { selfCommand } from "../src/runtime.ts";
import { genArgv } from "../src/cli/gen_argv.ts";
import { type ChainNames, type DualBridgeNames, Topology } from "../src/tools/topology.ts";
import { kernelCapabilities } from "../src/tools/kernel_probe.ts";

type RelayKind =
  | "mcr"
  | "mcr-blocks"
  | "mcr-busy"
  | "cref"
  | "cref-v2"
  | "cref-nap"
  | "socat"
  | "kernel";

/** The C reference's kinds: V3 blocks, V2 woken per packet, V2 napping between batches. */
const CREF_KINDS: readonly string[] = ["cref", "cref-v2", "cref-nap"];

/** The native C reference relay (c/ref/ref_relay.c, `make bench` builds it). */
const REF_RELAY = new URL("../build/ref_relay", import.meta.url).pathname;

/**
 * The relays a run compares by default: mcr, the C reference on the same
 * rings (every kernel), socat, and kernel forwarding where the kernel can
 * forward multicast (CONFIG_IP_MROUTE; src/tools/kernel_probe.ts). A relay
 * asked for that this kernel cannot run is dropped with its reason.
 */
export function chooseRelays<T extends string>(asked: string | undefined, all: readonly T[]): T[] {
  const wanted = (asked ?? all.join(",")).split(",").map((x) => x.trim()).filter((x) => x !== "");
  const mroute = kernelCapabilities().ip_mroute;
  return wanted.filter((r) => {
    if (r === "kernel" && !mroute.ok) {
      console.error(`bench: no "kernel" rows: ${mroute.reason}`);
      return false;
    }
    if (CREF_KINDS.includes(r)) {
      try {
        Deno.statSync(REF_RELAY);
      } catch {
        console.error(`bench: no "${r}" rows: ${REF_RELAY} is missing (make build/ref_relay)`);
        return false;
      }
    }
    return true;
  }) as T[];
}

interface Row {
  workload: string;
  relay: RelayKind;
  rep: number;
  size: number;
  target_pps: number;
  outputs: number;
  workers: number;
  sent: number;
  gen_pps: number;
  delivered: number;
  lost: number;
  loss_pct: number;
  duplicates: number;
  reordered: number;
  cpu_ns_per_pkt: number | null;
  relay_user_ns_per_pkt: number | null;
  relay_sys_ns_per_pkt: number | null;
  generator_limited: boolean;
  /** One-way latency at the receiver (generator send time to kernel receive time), µs. */
  latency_p50_us: number | null;
  latency_p99_us: number | null;
  latency_max_us: number | null;
  /** Rate the background stream (a second stream on the same input) reached; 0 without one. */
  background_pps?: number;
  relay_counters?: Record<string, number>;
}

/** The second stream of the latency benchmark's "under load" rows: relayed, not scored. */
const BACKGROUND = { group: "239.1.1.2", port: 5002, outGroup: "239.9.9.8", outPort: 5098 };

const env = (k: string, d: number) => Number(Deno.env.get(k) ?? d);
const QUICK = Deno.env.get("QUICK") === "1";
const REPS = env("REPS", QUICK ? 1 : 3);
const RESULTS = new URL("./results/", import.meta.url).pathname;
const TICK_NS = 1e9 / 100; // USER_HZ

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Busy jiffies of one CPU from /proc/stat: user+nice+system+irq+softirq. */
function cpuBusy(cpu: number): number {
  const line = Deno.readTextFileSync("/proc/stat").split("\n").find((l) =>
    l.startsWith(`cpu${cpu} `)
  )!;
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  return f[0] + f[1] + f[2] + f[5] + f[6];
}

/**
 * A CPU's busy time in ns since some origin: wall time minus the time its
 * cpuidle states report (µs, measured at every idle entry and exit). The
 * kernel's /proc/stat busy fields are tick samples (HZ 250 here, no IRQ time
 * accounting): a CPU that wakes from idle for each packet is counted busy
 * for whole ticks it mostly slept through (measured: the C reference's 2 µs
 * of process time per packet showed as 13-16 µs of CPU there). Without
 * cpuidle, the /proc/stat ticks.
 */
export function cpuBusyNs(cpu: number): number {
  const dir = `/sys/devices/system/cpu/cpu${cpu}/cpuidle`;
  // An idle period is added to the states' time when it ends: one in progress at this reading
  // would be counted by the next (measured: a busy time below zero at 1k pps). A process run
  // on the CPU ends it first (its own run, about 0.3 ms, is counted busy).
  new Deno.Command("taskset", { args: ["-c", String(cpu), "true"] }).outputSync();
  try {
    let idleUs = 0;
    for (const e of Deno.readDirSync(dir)) {
      if (e.name.startsWith("state")) {
        idleUs += Number(Deno.readTextFileSync(`${dir}/${e.name}/time`));
      }
    }
    return performance.timeOrigin * 1e6 + performance.now() * 1e6 - idleUs * 1000;
  } catch {
    return cpuBusy(cpu) * TICK_NS;
  }
}

/** utime and stime (jiffies) summed over every thread of a process. */
export function procTimes(pid: number): { user: number; sys: number } {
  let user = 0;
  let sys = 0;
  try {
    for (const t of Deno.readDirSync(`/proc/${pid}/task`)) {
      const stat = Deno.readTextFileSync(`/proc/${pid}/task/${t.name}/stat`);
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      user += Number(f[11]);
      sys += Number(f[12]);
    }
  } catch { /* exited */ }
  return { user, sys };
}

export async function readLinesUntil(
  stream: ReadableStream<Uint8Array>,
  needle: string,
  timeoutMs: number,
): Promise<string[]> {
  const lines: string[] = [];
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const { value, done } = await Promise.race([
      reader.read(),
      sleep(deadline - Date.now()).then(() => ({ value: undefined, done: true })),
    ]) as ReadableStreamReadResult<string>;
    if (done) break;
    buf += value;
    const parts = buf.split("\n");
    buf = parts.pop()!;
    lines.push(...parts);
    if (parts.some((l) => l.includes(needle))) {
      // Keep draining in the background so the child never blocks on a full pipe.
      (async () => {
        try {
          while (!(await reader.read()).done) { /* discard */ }
        } catch { /* closed */ }
      })();
      return lines;
    }
  }
  throw new Error(`did not see "${needle}" in ${timeoutMs} ms:\n${lines.join("\n")}`);
}

/** Starts one relay in the relay namespace, pinned to CPU 1; returns its pid and a stop function. */
async function startRelayKind(
  t: Topology,
  n: ChainNames,
  kind: RelayKind,
  outputs: number,
  workers: number,
  senderIp: string,
  relayOutIp: string,
  background = false,
  extraConfig = "",
  spread = false,
): Promise<{ pid: number; stop: () => Promise<Record<string, number> | undefined> }> {
  const dir = Deno.makeTempDirSync({ prefix: "mcr-bench-" });
  // The background stream (BACKGROUND below) is relayed too, by a second rule / route / socat.
  if (kind === "mcr" || kind === "mcr-blocks" || kind === "mcr-busy") {
    const outs = Array.from(
      { length: outputs },
      (_, i) =>
        `      - { interface: ${n.relayOut}, group: 239.9.${9 + Math.floor(i / 250)}.${
          (9 + i) % 250
        }, port: 5099, ttl: 8 }`,
    );
    const bg = background
      ? `  - name: background\n    input: { interface: ${n.relayIn}, group: ${BACKGROUND.group}, port: ${BACKGROUND.port} }\n` +
        `    outputs:\n      - { interface: ${n.relayOut}, group: ${BACKGROUND.outGroup}, port: ${BACKGROUND.outPort}, ttl: 8 }\n`
      : "";
    // The worker runs alone on CPU 1 (worker_cpus); the supervisor and the runtime's helper threads on CPU 0.
    Deno.writeTextFileSync(
      `${dir}/mcr.yaml`,
      `workers: ${workers}\n${extraConfig.includes("worker_cpus") ? "" : "worker_cpus: [1]\n"}${
        extraConfig ? extraConfig + "\n" : ""
      }${
        kind === "mcr-blocks"
          ? "ring: { rx_mode: blocks }\n"
          : kind === "mcr-busy"
          ? "ring: { busy_poll_us: 500 }\n"
          : ""
      }rules:\n  - name: bench\n    rate_pps: 400000\n${
        spread ? "    spread: true\n" : ""
      }    input: { interface: ${n.relayIn}, group: 239.1.1.1, port: 5001 }\n    outputs:\n${
        outs.join("\n")
      }\n${bg}`,
      { mode: 0o600 },
    );
    const statsPath = `${dir}/final.json`;
    // MCR_BENCH_V8_FLAGS: V8 flags for the relay alone (an A/B of a flag, e.g. heap sizing).
    const v8 = Deno.env.get("MCR_BENCH_V8_FLAGS");
    const p = t.spawn(n.relay, [
      ...(v8 ? ["env", `DENO_V8_FLAGS=${v8}`] : []),
      "taskset",
      "-c",
      "0",
      ...selfCommand([
        "run",
        "--config",
        `${dir}/mcr.yaml`,
        "--no-api",
        "--final-stats",
        statsPath,
      ]),
    ], { stdout: "null" });
    await readLinesUntil(p.stderr, "relay started", 20_000);
    return {
      pid: p.pid,
      stop: async () => {
        p.kill("SIGTERM");
        await p.status;
        try {
          const final = JSON.parse(Deno.readTextFileSync(statsPath));
          // Each worker's share of the copies (tx_sent), beside the totals.
          const shares = Object.fromEntries(
            (final.workers ?? []).map((w: { id: number; counters: { tx_sent: number } }) => [
              `worker${w.id}_tx_sent`,
              w.counters.tx_sent,
            ]),
          );
          return { ...final.totals, ...shares };
        } finally {
          Deno.removeSync(dir, { recursive: true });
        }
      },
    };
  }
  if (CREF_KINDS.includes(kind)) {
    // One rule: the plain C loop on a TPACKET_V3 RX ring and a TX ring, pinned to CPU 1; with
    // several outputs it writes each packet that many times, to groups numbered as mcr's are.
    // cref-v2: the same loop on a TPACKET_V2 RX ring, woken per packet (mcr-frames' design);
    // cref-nap: that loop napping 50 µs after every turn that found packets, woken per packet
    // when one found none: the C loop at mcr's default median latency. (With mcr's own entry
    // rule, six frames in a turn, a loop this fast rarely naps at 50k pps: 1,618 naps for
    // 100,000 packets, as costly as cref-v2.)
    if (background) throw new Error("the C reference relays one stream: no background stream");
    const statsPath = `${dir}/ref.json`;
    const p = t.spawn(n.relay, [
      REF_RELAY,
      "--in",
      n.relayIn,
      "--group",
      "239.1.1.1",
      "--port",
      "5001",
      "--out",
      n.relayOut,
      "--out-group",
      "239.9.9.9",
      "--out-port",
      "5099",
      "--ttl",
      "8",
      "--cpu",
      "1",
      "--stats",
      statsPath,
      ...(outputs > 1 ? ["--copies", String(outputs)] : []),
      ...(kind === "cref-v2" ? ["--mode", "v2"] : []),
      ...(kind === "cref-nap"
        ? ["--mode", "v2", "--nap-us", "50", "--nap-enter", "1", "--nap-stay", "1"]
        : []),
    ], { stdout: "null" });
    await readLinesUntil(p.stderr, "ref_relay started", 20_000);
    return {
      pid: p.pid,
      stop: async () => {
        p.kill("SIGTERM");
        await p.status;
        try {
          return JSON.parse(Deno.readTextFileSync(statsPath));
        } catch {
          return undefined;
        } finally {
          Deno.removeSync(dir, { recursive: true });
        }
      },
    };
  }
  if (kind === "socat") {
    const socat = (inGroup: string, inPort: number, outGroup: string, outPort: number) =>
      t.spawn(n.relay, [
        "taskset",
        "-c",
        "1",
        "socat",
        "-u",
        "-b",
        "65536",
        `UDP4-RECV:${inPort},ip-add-membership=${inGroup}:${n.relayIn},reuseaddr,rcvbuf=8388608`,
        `UDP4-SENDTO:${outGroup}:${outPort},ip-multicast-if=${relayOutIp},ip-multicast-ttl=8,sndbuf=8388608`,
      ], { stdout: "null", stderr: "null" });
    const ps = [socat("239.1.1.1", 5001, "239.9.9.9", 5099)];
    if (background) {
      ps.push(socat(BACKGROUND.group, BACKGROUND.port, BACKGROUND.outGroup, BACKGROUND.outPort));
    }
    await sleep(300);
    return {
      pid: ps[0].pid,
      stop: async () => {
        for (const p of ps) p.kill("SIGTERM");
        for (const p of ps) await p.status;
        Deno.removeSync(dir, { recursive: true });
        return undefined;
      },
    };
  }
  // kernel: a static (S,G) route; the kernel cannot rewrite, so the receiver listens on the input group.
  Deno.writeTextFileSync(
    `${dir}/smcroute.conf`,
    `phyint ${n.relayIn} enable\nphyint ${n.relayOut} enable\nmroute from ${n.relayIn} source ${senderIp} group 239.1.1.1 to ${n.relayOut}\n` +
      (background
        ? `mroute from ${n.relayIn} source ${senderIp} group ${BACKGROUND.group} to ${n.relayOut}\n`
        : ""),
  );
  const p = t.spawn(n.relay, [
    "taskset",
    "-c",
    "1",
    "smcrouted",
    "-n",
    "-N",
    "-f",
    `${dir}/smcroute.conf`,
    "-u",
    `${dir}/smcroute.sock`,
    "-P",
    `${dir}/smcroute.pid`,
    "-i",
    `mcrbench${Deno.pid}`,
    "-l",
    "err",
  ], { stdout: "null", stderr: "null" });
  await sleep(1000);
  return {
    pid: p.pid,
    stop:
      async () => (p.kill("SIGTERM"),
        await p.status,
        Deno.removeSync(dir, { recursive: true }),
        undefined),
  };
}

/** Why this kernel cannot give runOne a discarding output (no ifb device), or null when it can. */
export async function discardUnavailable(): Promise<string | null> {
  const ns = `mcrifb${Deno.pid}`;
  const ip = (...args: string[]) =>
    new Deno.Command("ip", { args, stdout: "null", stderr: "piped" }).output();
  const made = await ip("netns", "add", ns);
  if (!made.success) return `ip netns add: ${new TextDecoder().decode(made.stderr).trim()}`;
  try {
    const r = await ip("-n", ns, "link", "add", "probe0", "type", "ifb");
    return r.success ? null : `no ifb device: ${new TextDecoder().decode(r.stderr).trim()}`;
  } finally {
    await ip("netns", "del", ns);
  }
}

/**
 * Adds a device that discards what it is sent, up, with an address: an ifb (the dummy driver
 * is not built on every kernel), which counts each frame it is sent in rx_packets and frees
 * it, after the same qdisc a NIC has (pfifo_fast). Returns its name.
 */
async function addDiscard(t: Topology, ns: string, name: string, cidr: string): Promise<string> {
  for (
    const argv of [["ip", "link", "add", name, "type", "ifb"], ["ip", "link", "set", name, "up"]]
  ) {
    const r = await t.run(ns, argv);
    if (r.code !== 0) throw new Error(`${argv.join(" ")}: ${r.stderr.trim()}`);
  }
  await t.addAddress(ns, name, cidr);
  return name;
}

/** Frames an addDiscard device has been sent (its kernel counter). */
async function discarded(t: Topology, ns: string, ifname: string): Promise<number> {
  return Number(
    (await t.run(ns, ["cat", `/sys/class/net/${ifname}/statistics/rx_packets`])).stdout,
  );
}

/**
 * Sets SCHED_FIFO `priority` on every relay forwarding thread running (mcr's threads named
 * mcr-worker-N, the C reference's ref_relay); the benchmark runs one relay at a time.
 */
async function setFifo(priority: number): Promise<void> {
  let set = 0;
  for (const p of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(p.name)) continue;
    let tasks: Deno.DirEntry[];
    try {
      tasks = [...Deno.readDirSync(`/proc/${p.name}/task`)];
    } catch {
      continue; // gone
    }
    for (const task of tasks) {
      let comm = "";
      try {
        comm = Deno.readTextFileSync(`/proc/${p.name}/task/${task.name}/comm`).trim();
      } catch {
        continue;
      }
      if (!comm.startsWith("mcr-worker-") && comm !== "ref_relay") continue;
      const r = await new Deno.Command("chrt", {
        args: ["-f", "-p", String(priority), task.name],
        stdout: "null",
        stderr: "piped",
      }).output();
      if (!r.success) throw new Error(`chrt ${task.name}: ${new TextDecoder().decode(r.stderr)}`);
      set++;
    }
  }
  if (set === 0) throw new Error("no relay forwarding thread found to set SCHED_FIFO on");
}

export async function setRps(t: Topology, ns: string, ifname: string, mask: string): Promise<void> {
  await t.run(ns, [
    "sh",
    "-c",
    `for q in /sys/class/net/${ifname}/queues/rx-*; do echo ${mask} > $q/rps_cpus; done`,
  ]);
}

export type { Row };

export async function runOne(workload: string, kind: RelayKind, rep: number, o: {
  count: number;
  rate: number;
  size: number;
  outputs?: number;
  workers?: number;
  bridge?: boolean;
  /** A second stream on the same input, relayed too, at this rate (1024-byte datagrams): its latency is not scored. */
  backgroundPps?: number;
  /** Records CPU 1 with `perf record -g` into this file while the measured stream runs. */
  perfFile?: string;
  /** Extra relay configuration (YAML lines) for the mcr kinds. */
  mcrConfig?: string;
  /** The rule is spread over the workers (each writes a share of its outputs). */
  spread?: boolean;
  /**
   * The relay writes to a device that discards what it is sent (addDiscard) instead of the
   * veth to the receiver: a TX kick then wakes no other CPU, as on a NIC whose receiver is
   * another machine. Delivered is what the device was sent; no receiver, so no latency.
   */
  discardOut?: boolean;
  /**
   * The relay's forwarding threads (mcr's workers, the C loop) run SCHED_FIFO at this
   * priority (chrt), set once the relay has started: a host-tuning measurement.
   */
  fifo?: number;
  /**
   * Datagrams sent through the relay at the stream's rate before the measured stream (another
   * run id: the receiver does not score them), so the measured stream meets a warm relay.
   */
  warmup?: number;
}): Promise<Row> {
  const t = await Topology.create();
  try {
    const chain: ChainNames | DualBridgeNames = o.bridge ? await t.dualBridge() : await t.chain();
    const genIp = o.bridge ? "10.0.0.10" : "10.0.0.1";
    const discard = o.discardOut
      ? await addDiscard(t, chain.relay, `${t.prefix}d0`, "10.0.2.1/24")
      : null;
    const n = discard ? { ...chain, relayOut: discard } : chain;
    const relayOutIp = discard ? "10.0.2.1" : o.bridge ? "10.0.1.20" : "10.0.1.1";
    await setRps(t, n.relay, n.relayIn, "2"); // relay input processing on CPU 1
    await setRps(t, n.sink, n.sinkIf, "1"); // receiver processing on CPU 0
    if (o.bridge) {
      // Bridging is not the relay's work: keep it on CPU 0 too.
      const p = t.prefix;
      const bridges = "bridges" in n ? (n as DualBridgeNames).bridges : n.relay;
      for (const ifname of [`${p}bg`, `${p}b0`, `${p}b1`, `${p}bs`]) {
        await setRps(t, bridges, ifname, "1");
      }
    }
    if (kind === "kernel") {
      await t.sysctl(n.relay, "net.ipv4.conf.all.mc_forwarding", "1").catch(() => {});
    }
    const relay = await startRelayKind(
      t,
      n,
      kind,
      o.outputs ?? 1,
      o.workers ?? 1,
      genIp,
      relayOutIp,
      (o.backgroundPps ?? 0) > 0,
      o.mcrConfig,
      o.spread,
    );
    if (o.fifo) await setFifo(o.fifo);
    const group = kind === "kernel" ? "239.1.1.1" : "239.9.9.9";
    const port = kind === "kernel" ? 5001 : 5099;
    const sink = discard ? null : t.spawn(n.sink, [
      "taskset",
      "-c",
      "0",
      ...selfCommand([
        "sink",
        "--group",
        group,
        "--port",
        String(port),
        "--interface",
        n.sinkIf,
        "--expect",
        String(o.count),
        "--idle-timeout-ms",
        "1500",
        // A relay that delivers nothing must not hold the run: the sink gives up after the stream's length plus 30 s.
        "--max-seconds",
        String(Math.ceil(o.count / o.rate) + 30),
        "--json",
        "--run-id",
        String(rep + 1),
      ]),
    ], { stderr: "null" });
    const sinkOut = sink ? new Response(sink.stdout).text() : null;
    await sleep(sink ? 500 : 100); // the receiver joins its group
    // The background stream runs from before the measured one starts until after it ends.
    const bgSeconds = Math.ceil(o.count / o.rate) + 2;
    const background = (o.backgroundPps ?? 0) > 0
      ? t.run(n.gen, [
        "taskset",
        "-c",
        "0",
        ...selfCommand(genArgv({
          group: BACKGROUND.group,
          port: BACKGROUND.port,
          count: o.backgroundPps! * bgSeconds,
          rate: o.backgroundPps!,
          size: 1024,
          iface: n.genIf,
          ttl: 8,
          runId: 99,
        })),
      ], 600_000)
      : null;
    if (background) await sleep(500);
    const perf = o.perfFile
      ? new Deno.Command("perf", {
        args: ["record", "-q", "-e", "cpu-clock", "-C", "1", "-g", "-o", o.perfFile],
        stdout: "null",
        stderr: "null",
      }).spawn()
      : null;
    if (perf) await sleep(300);
    // The measured stream into 239.1.1.1:5001, and before it the warm-up (another run id).
    const generate = (count: number, runId: number) =>
      t.run(n.gen, [
        "taskset",
        "-c",
        "0",
        ...selfCommand(genArgv({
          group: "239.1.1.1",
          port: 5001,
          count,
          rate: o.rate,
          size: o.size,
          iface: n.genIf,
          ttl: 8,
          runId,
        })),
      ], 600_000);
    if (o.warmup) {
      await generate(o.warmup, 1000 + rep);
      await sleep(300);
    }
    const sent0 = discard ? await discarded(t, n.relay, discard) : 0;
    const busy0 = cpuBusyNs(1);
    const proc0 = procTimes(relay.pid);
    const gen = await generate(o.count, rep + 1);
    if (sink) await sink.status;
    else await sleep(300); // the relay's last batch
    const busy1 = cpuBusyNs(1);
    if (perf) {
      perf.kill("SIGINT");
      await perf.status;
    }
    const proc1 = procTimes(relay.pid);
    const bgSent = background
      ? JSON.parse((await background).stdout.trim().split("\n").pop() || "{}").rate_pps ?? 0
      : 0;
    const counters = await relay.stop();
    const g = JSON.parse(gen.stdout.trim().split("\n").pop() || "{}");
    const s = sinkOut
      ? JSON.parse((await sinkOut).trim().split("\n").pop() || "{}")
      : { unique: (await discarded(t, n.relay, discard!)) - sent0 };
    const delivered = s.unique ?? 0;
    const per = (jiffies: number) =>
      delivered > 0 ? Math.round((jiffies * TICK_NS) / delivered) : null;
    const lost = Math.max(0, (g.sent ?? 0) - delivered);
    return {
      workload,
      relay: kind,
      rep,
      size: o.size,
      target_pps: o.rate,
      outputs: o.outputs ?? 1,
      workers: o.workers ?? 1,
      sent: g.sent ?? 0,
      gen_pps: g.rate_pps ?? 0,
      delivered,
      lost,
      loss_pct: g.sent ? +(100 * lost / g.sent).toFixed(3) : 100,
      duplicates: s.duplicates ?? 0,
      reordered: s.reordered ?? 0,
      cpu_ns_per_pkt: delivered > 0 ? Math.round((busy1 - busy0) / delivered) : null,
      relay_user_ns_per_pkt: per(proc1.user - proc0.user),
      relay_sys_ns_per_pkt: per(proc1.sys - proc0.sys),
      generator_limited: (g.rate_pps ?? 0) < 0.97 * o.rate,
      latency_p50_us: s.latency?.p50_us ?? null,
      latency_p99_us: s.latency?.p99_us ?? null,
      latency_max_us: s.latency?.max_us ?? null,
      background_pps: bgSent,
      relay_counters: counters,
    };
  } finally {
    await t.destroy();
  }
}

function fmt(v: number | null, digits = 0): string {
  return v === null ? "-" : v.toFixed(digits);
}

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main(): Promise<void> {
  Deno.mkdirSync(RESULTS, { recursive: true });
  const out = await Deno.open(`${RESULTS}latest.jsonl`, {
    write: true,
    create: true,
    truncate: true,
  });
  const rows: Row[] = [];
  const record = async (r: Row) => {
    rows.push(r);
    await out.write(new TextEncoder().encode(JSON.stringify(r) + "\n"));
    console.log(
      `${r.workload.padEnd(22)} ${r.relay.padEnd(6)} rep ${r.rep}  ${
        String(r.size).padStart(5)
      } B @ ${String(r.target_pps).padStart(7)} pps` +
        `  sent ${r.sent} (${r.gen_pps} pps)  delivered ${r.delivered}  loss ${r.loss_pct}%  dup ${r.duplicates}` +
        `  cpu ${fmt(r.cpu_ns_per_pkt)} ns/pkt${
          r.generator_limited ? "  [generator-limited]" : ""
        }`,
    );
  };
  const relays = chooseRelays<RelayKind>(Deno.env.get("RELAYS"), [
    "mcr",
    "cref",
    "socat",
    "kernel",
  ]);
  const only = Deno.env.get("WORKLOADS")?.split(",");
  const wanted = (w: string) => !only || only.includes(w);
  const count = env("PACKET_COUNT", 0);
  const rate = env("SEND_RATE", 0);
  const size = env("PACKET_SIZE", 1024);

  // 1. The seed's workloads, interleaved by repetition.
  for (let rep = 0; rep < REPS; rep++) {
    for (const relay of relays) {
      if (wanted("seed-chain")) {
        await record(
          await runOne("seed-chain", relay, rep, {
            count: count || (QUICK ? 50_000 : 100_000),
            rate: rate || 50_000,
            size,
          }),
        );
      }
      if (wanted("seed-bridge")) {
        await record(
          await runOne("seed-bridge", relay, rep, {
            count: count || (QUICK ? 300_000 : 1_000_000),
            rate: rate || 150_000,
            size,
            bridge: true,
          }),
        );
      }
    }
  }
  // 2. Rate sweep, 64 and 1024 bytes.
  const rates = QUICK ? [50_000, 150_000, 300_000] : [50_000, 100_000, 200_000, 300_000, 400_000];
  for (const s of wanted("sweep") ? [64, 1024] : []) {
    for (const r of rates) {
      for (const relay of relays) {
        await record(
          await runOne(`sweep-${s}B`, relay, 0, {
            count: Math.max(50_000, r * (QUICK ? 1 : 2)),
            rate: r,
            size: s,
          }),
        );
      }
    }
  }
  // 3. Fan-out: cost per output copy (mcr and the C reference; receivers listen to the first output).
  for (const outputs of !wanted("fanout") ? [] : QUICK ? [1, 16] : [1, 4, 16, 64]) {
    for (const relay of relays.filter((r) => r === "mcr" || r === "cref")) {
      await record(
        await runOne("fanout", relay, 0, { count: 100_000, rate: 20_000, size: 256, outputs }),
      );
    }
  }
  // 4. Two workers (PACKET_FANOUT) at the bridge workload's rate.
  if (wanted("workers")) {
    await record(
      await runOne("workers-2", "mcr", 0, {
        count: QUICK ? 300_000 : 1_000_000,
        rate: 150_000,
        size: 1024,
        workers: 2,
      }),
    );
  }
  out.close();

  // ---- summary table --------------------------------------------------------
  const lines: string[] = [];
  lines.push(
    "| workload | relay | size | offered pps | delivered (median) | loss % (max) | dup/reorder | CPU ns/pkt (median) | vs mcr | vs C reference |",
  );
  lines.push("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
  const groups = new Map<string, Row[]>();
  for (const r of rows) {
    const k = `${r.workload}|${r.relay}|${r.size}|${r.target_pps}|${r.outputs}|${r.workers}`;
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  /** Median CPU per packet of one relay, by the rest of the row's key. */
  const cpuOf = (relay: RelayKind) => {
    const m = new Map<string, number>();
    for (const [k, rs] of groups) {
      if (rs[0].relay !== relay) continue;
      const c = rs.map((r) => r.cpu_ns_per_pkt).filter((v): v is number => v !== null);
      if (c.length) m.set(k.replace(`|${relay}|`, "|"), median(c));
    }
    return m;
  };
  const mcrCpu = cpuOf("mcr");
  const refCpu = cpuOf("cref");
  for (const [k, rs] of groups) {
    const r0 = rs[0];
    const cpu = rs.map((r) => r.cpu_ns_per_pkt).filter((v): v is number => v !== null);
    const cpuMed = cpu.length ? median(cpu) : null;
    const base = mcrCpu.get(k.replace(`|${r0.relay}|`, "|"));
    const ref = refCpu.get(k.replace(`|${r0.relay}|`, "|"));
    const label = r0.workload === "fanout" ? `fanout x${r0.outputs}` : r0.workload;
    lines.push(
      `| ${label} | ${r0.relay} | ${r0.size} | ${r0.target_pps} | ${
        median(rs.map((r) => r.delivered))
      } / ${median(rs.map((r) => r.sent))}` +
        ` | ${Math.max(...rs.map((r) => r.loss_pct))} | ${
          rs.reduce((a, r) => a + r.duplicates, 0)
        }/${rs.reduce((a, r) => a + r.reordered, 0)}` +
        ` | ${fmt(cpuMed)} | ${cpuMed !== null && base ? (cpuMed / base).toFixed(2) + "x" : "-"}` +
        ` | ${cpuMed !== null && ref ? (cpuMed / ref).toFixed(2) + "x" : "-"}` +
        `${rs.some((r) => r.generator_limited) ? " (generator-limited)" : ""} |`,
    );
  }
  // navigator.hardwareConcurrency counts only the CPUs this (pinned) process may use.
  const cpus =
    Deno.readTextFileSync("/proc/cpuinfo").split("\n").filter((l) => l.startsWith("processor"))
      .length;
  const machine = `${Deno.build.os} ${Deno.osRelease()}, ${cpus} CPU${cpus === 1 ? "" : "s"}, ${
    Deno.readTextFileSync("/proc/cpuinfo").match(/model name\s*:\s*(.*)/)?.[1] ?? "unknown CPU"
  }`;
  const table = `Measured ${
    new Date().toISOString().slice(0, 10)
  } on ${machine}; ${REPS} repetition(s).\n\n${lines.join("\n")}\n`;
  Deno.writeTextFileSync(`${RESULTS}latest.md`, table);
  console.log("\n" + table);

  // ---- chart ------------------------------------------------------------------
  const series = relays.flatMap((relay) =>
    [64, 1024].map((s) => ({
      name: `${relay} ${s}B`,
      points: rows.filter((r) => r.workload === `sweep-${s}B` && r.relay === relay).map((r) => ({
        rate: r.target_pps,
        lossPct: r.loss_pct,
        cpuNsPerPacket: r.cpu_ns_per_pkt,
      })),
    }))
  );
  Deno.writeTextFileSync(`${RESULTS}chart.svg`, renderChart(series, machine));
  console.log(`raw rows: ${RESULTS}latest.jsonl; chart: ${RESULTS}chart.svg`);
}

if (import.meta.main) await main();

/**
 * Starts `mcr run` in `ns` on CPU 0 with `yaml` as its config (the API on
 * 127.0.0.1:8787); resolves once the API listens. The benchmarks of single
 * features (streams, merges) share it.
 */
export async function relayOn(
  t: Topology,
  ns: string,
  yaml: string,
): Promise<{ pid: number; stop(): Promise<void> }> {
  const dir = Deno.makeTempDirSync({ prefix: "mcr-bench-" });
  Deno.writeTextFileSync(`${dir}/mcr.yaml`, yaml, { mode: 0o600 });
  const p = t.spawn(ns, [
    "taskset",
    "-c",
    "0",
    ...selfCommand(["run", "--config", `${dir}/mcr.yaml`]),
  ], { stdout: "null" });
  await readLinesUntil(p.stderr, "API listening", 20_000);
  return {
    pid: p.pid,
    stop: async () => {
      p.kill("SIGTERM");
      await p.status;
      Deno.removeSync(dir, { recursive: true });
    },
  };
}
