/**
 * Redundant feeds (merge rules), measured against the targets of the issue
 * that asked for them, in one run, side by side:
 *   exact   MERGE_COUNT (default 1,000,000) numbered datagrams on two legs,
 *           1 % random loss on red and 5 % on blue, blue up to 50 ms behind:
 *           what the receiver is missing must equal what both legs lost,
 *           exactly, with no duplicate;
 *   latency the median one-way latency at the receiver through a pass-through
 *           merge against a plain rule relaying the same leg (target: +20 µs at
 *           most), and through resequence 20 ms (target: +20 ms ± 2);
 *   cost    50,000 datagrams/s over both legs (25,000 each): relay core time
 *           per received datagram merged, against the same two legs relayed
 *           by two plain rules (target: ≤ 1.3x), and the loss.
 *
 *   deno run --allow-all bench/merge_bench.ts
 *   MERGE_COUNT=1000000 MERGE_PPS=50000 MERGE_REPS=3 MERGE_SECTIONS=exact,latency,cost
 *
 * Writes bench/results/merge.md. A benchmark: it asserts nothing; it prints
 * what it measured, targets missed included.
 */
import { cpuBusyNs, procTimes, relayOn, setRps } from "./run.ts";
import { selfCommand } from "../src/runtime.ts";
import { type LegsNames, Topology } from "../src/tools/topology.ts";

const COUNT = Number(Deno.env.get("MERGE_COUNT") ?? 1_000_000);
const PPS = Number(Deno.env.get("MERGE_PPS") ?? 50_000);
const REPS = Number(Deno.env.get("MERGE_REPS") ?? 3);
const sections = (Deno.env.get("MERGE_SECTIONS") ?? "exact,latency,cost").split(",");
const API = "http://127.0.0.1:8787";
const KEY = "key: { sequence: { offset: 8, width: 8 } }";

type Range = [number, number];

function mergeRule(n: LegsNames, name: string, port: number, extra = "", rate = PPS): string {
  return `  - name: ${name}\n    rate_pps: ${rate}\n    merge:\n` +
    `      legs:\n        - { interface: ${n.relayIn}, group: 239.1.1.1, port: ${port} }\n` +
    `        - { interface: ${n.relayIn2}, group: 239.2.1.1, port: ${port} }\n` +
    `      ${KEY}\n` + extra.split("\n").filter((l) => l).map((l) => `      ${l}\n`).join("") +
    `    outputs: [{ interface: ${n.relayOut}, group: 239.9.9.1, port: ${port + 1000} }]\n`;
}

function plainRule(n: LegsNames, name: string, iface: string, group: string, port: number) {
  return `  - name: ${name}\n    rate_pps: ${PPS}\n` +
    `    input: { interface: ${iface}, group: ${group}, port: ${port} }\n` +
    `    outputs: [{ interface: ${n.relayOut}, group: 239.9.9.1, port: ${port + 1000} }]\n`;
}

async function genLegs(t: Topology, n: LegsNames, port: number, args: string[]) {
  const r = await t.run(
    n.gen,
    selfCommand([
      "gen",
      "--leg",
      `${n.genIf},239.1.1.1,${port}`,
      "--leg",
      `${n.genIf2},239.2.1.1,${port}`,
      "--ttl",
      "8",
      "--json",
      ...args,
    ]),
    3_600_000,
  );
  if (r.code !== 0) throw new Error(`mcr gen: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!) as {
    sent: number;
    legs: { sent: number; dropped: Range[]; dropped_count: number }[];
  };
}

function sink(t: Topology, n: LegsNames, port: number, runId: number) {
  const p = t.spawn(
    n.sink,
    selfCommand([
      "sink",
      "--group",
      "239.9.9.1",
      "--port",
      String(port),
      "--interface",
      n.sinkIf,
      "--run-id",
      String(runId),
      "--json",
      "--idle-timeout-ms",
      "3000",
      "--max-seconds",
      "3600",
    ]),
  );
  return new Response(p.stdout).text().then((s) => JSON.parse(s.trim().split("\n").pop()!));
}

function bothLost(a: Range[], b: Range[]): number {
  const x = new Set<number>();
  for (const [s, e] of a) for (let k = s; k <= e; k++) x.add(k);
  let n = 0;
  for (const [s, e] of b) for (let k = s; k <= e; k++) if (x.has(k)) n++;
  return n;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const out: string[] = [`# Redundant feeds (merge), measured ${new Date().toISOString()}`, ""];

async function withLegs<T>(fn: (t: Topology, n: LegsNames) => Promise<T>): Promise<T> {
  const t = await Topology.create();
  try {
    return await fn(t, await t.legs());
  } finally {
    await t.destroy();
  }
}

if (sections.includes("exact")) {
  await withLegs(async (t, n) => {
    const rate = Math.min(PPS / 2, 25_000);
    const relay = await relayOn(t, n.relay, `rules:\n${mergeRule(n, "feed", 5004, "", rate)}`);
    const got = sink(t, n, 6004, 61);
    await sleep(300);
    const g = await genLegs(t, n, 5004, [
      "--count",
      String(COUNT),
      "--rate",
      String(rate),
      "--size",
      "200",
      "--run-id",
      "61",
      "--leg-loss",
      "0:1:71",
      "--leg-loss",
      "1:5:72",
      "--leg-delay",
      "1:25",
    ]);
    const r = await got;
    await sleep(1_500);
    const m = JSON.parse((await t.run(n.relay, ["curl", "-sf", `${API}/api/v1/merges`])).stdout)[0];
    await relay.stop();
    const both = bothLost(g.legs[0].dropped, g.legs[1].dropped);
    const missing = COUNT - r.unique;
    out.push(
      `## Exact: ${COUNT} datagrams at ${rate}/s, 1 % loss on red, 5 % on blue, blue 25 ms behind`,
      "",
      "| lost on red | lost on blue | lost on both | missing at the receiver | duplicates | merge: lost on every leg | blue PD max ms | verdict |",
      "|---:|---:|---:|---:|---:|---:|---:|---|",
      `| ${g.legs[0].dropped_count} | ${
        g.legs[1].dropped_count
      } | ${both} | ${missing} | ${r.duplicates} | ${m.figures.lost} | ${
        m.legs[1].pd_max_ms.toFixed(2)
      } | ${missing === both && r.duplicates === 0 ? "met" : "NOT MET"} |`,
      "",
    );
    console.error(out.slice(-3).join("\n"));
  });
}

if (sections.includes("latency")) {
  await withLegs(async (t, n) => {
    const relay = await relayOn(
      t,
      n.relay,
      `rules:\n${plainRule(n, "plain", n.relayIn, "239.1.1.3", 5030)}${mergeRule(n, "pass", 5031)}${
        mergeRule(n, "reseq", 5032, "mode: resequence\ndelay_ms: 20")
      }`,
    );
    const rows: string[] = [];
    const p50: Record<string, number[]> = { plain: [], pass: [], reseq: [] };
    for (let rep = 0; rep < REPS; rep++) {
      for (const [name, port] of [["plain", 5030], ["pass", 5031], ["reseq", 5032]] as const) {
        // Each round sends the numbers from 0 again: the merge takes that for a sender's new
        // session once the last round has stood still two windows (0.9 s).
        await sleep(1_000);
        const got = sink(t, n, port + 1000, 70 + port % 10);
        await sleep(300);
        const args = ["--count", "20000", "--rate", "5000", "--size", "200", "--run-id"];
        if (name === "plain") {
          await t.run(
            n.gen,
            selfCommand([
              "gen",
              "--group",
              "239.1.1.3",
              "--port",
              String(port),
              "--interface",
              n.genIf,
              "--ttl",
              "8",
              ...args,
              String(70 + port % 10),
            ]),
            600_000,
          );
        } else {
          await genLegs(t, n, port, [...args, String(70 + port % 10), "--leg-delay", "1:5"]);
        }
        const r = await got;
        p50[name].push(r.latency.p50_us);
        rows.push(
          `| ${rep + 1} | ${name} | ${r.unique} | ${r.reordered} | ${
            r.latency.p50_us.toFixed(1)
          } | ${r.latency.p99_us.toFixed(1)} |`,
        );
        console.error(rows.at(-1));
      }
    }
    await relay.stop();
    const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const addPass = median(p50.pass) - median(p50.plain);
    const addReseq = median(p50.reseq) - median(p50.pass);
    out.push(
      `## Latency at the receiver: 20,000 datagrams at 5,000/s per run, blue 5 ms behind, ${REPS} rounds`,
      "",
      "| round | rule | received | reordered | p50 µs | p99 µs |",
      "|---:|---|---:|---:|---:|---:|",
      ...rows,
      "",
      `Pass-through merge over a plain rule (medians): ${addPass.toFixed(1)} µs (target ≤ 20: ${
        addPass <= 20 ? "met" : "NOT MET"
      }). Resequence 20 ms over pass-through: ${(addReseq / 1000).toFixed(3)} ms (target 20 ± 2: ${
        Math.abs(addReseq - 20_000) <= 2_000 ? "met" : "NOT MET"
      }).`,
      "",
    );
  });
}

/** Relay core µs per received datagram for both legs at PPS in all, merged or by two plain rules. */
async function cost(merged: boolean) {
  return await withLegs(async (t, n) => {
    await setRps(t, n.relay, n.relayIn, "2");
    await setRps(t, n.relay, n.relayIn2, "2");
    await setRps(t, n.sink, n.sinkIf, "1");
    const yaml = merged
      ? mergeRule(n, "feed", 5004, "", PPS / 2)
      : plainRule(n, "red", n.relayIn, "239.1.1.1", 5004) +
        plainRule(n, "blue", n.relayIn2, "239.2.1.1", 5004).replace("port: 6004", "port: 6005");
    const relay = await relayOn(t, n.relay, `worker_cpus: [1]\nrules:\n${yaml}`);
    const count = (PPS / 2) * 6;
    const busy0 = cpuBusyNs(1);
    const p0 = procTimes(relay.pid);
    const g = await genLegs(t, n, 5004, [
      "--count",
      String(count),
      "--rate",
      String(PPS / 2),
      "--size",
      "200",
      "--leg-delay",
      "1:2",
    ]);
    await sleep(300);
    const busy1 = cpuBusyNs(1);
    const p1 = procTimes(relay.pid);
    const stats = JSON.parse((await t.run(n.relay, ["curl", "-sf", `${API}/api/v1/stats`])).stdout);
    await relay.stop();
    const received = stats.totals.rx_packets;
    const expectedOut = merged ? count : 2 * count;
    return {
      coreUs: (busy1 - busy0) / 1000 / Math.max(1, received),
      processUs: ((p1.user - p0.user) + (p1.sys - p0.sys)) * 10_000 / Math.max(1, received),
      loss: 100 * (expectedOut - stats.totals.tx_sent) / expectedOut,
      sent: g.sent,
      received,
    };
  });
}

if (sections.includes("cost")) {
  const on: number[] = [];
  const off: number[] = [];
  const rows: string[] = [];
  for (let rep = 0; rep < REPS; rep++) {
    for (const merged of [false, true]) {
      const r = await cost(merged);
      (merged ? on : off).push(r.coreUs);
      rows.push(
        `| ${rep + 1} | ${merged ? "merge" : "two plain rules"} | ${r.received} | ${
          r.loss.toFixed(3)
        } | ${r.coreUs.toFixed(2)} | ${r.processUs.toFixed(2)} |`,
      );
      console.error(rows.at(-1));
    }
  }
  const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const ratio = median(on) / median(off);
  out.push(
    `## Cost: ${PPS} datagrams/s over both legs (200 B), relay pinned to CPU 1, ${REPS} paired runs`,
    "",
    "| run | relay | received | output loss % | relay core µs/received datagram | relay process µs/datagram |",
    "|---:|---|---:|---:|---:|---:|",
    ...rows,
    "",
    `Merged / two plain rules (relay core, medians): ${ratio.toFixed(2)}x (target ≤ 1.3: ${
      ratio <= 1.3 ? "met" : "NOT MET"
    }).`,
    "",
  );
}

const text = out.join("\n");
Deno.writeTextFileSync(new URL("./results/merge.md", import.meta.url).pathname, text + "\n");
console.log(text);
