/**
 * Stream inspection, measured: what it costs per packet (the same RTP/TS
 * traffic relayed with `inspect: { mode: rtp+ts }` and without, paired
 * repetitions, relay core busy time per packet as bench/run.ts measures it)
 * and whether a clean stream ever raises an indicator (STREAMS_FP_SECONDS,
 * default 600, of a clean 10 Mb/s TS carrying legal duplicates, legal
 * discontinuities and null packets, in 188- and 204-byte packets at once).
 *
 *   deno run --allow-all bench/streams_bench.ts
 *   STREAMS_REPS=3 STREAMS_PPS=50000 STREAMS_FP_SECONDS=600 STREAMS_SECTIONS=cost,clean
 *
 * Writes bench/results/streams.md. A benchmark: it asserts nothing.
 */
import { cpuBusyNs, procTimes, relayOn, setRps } from "./run.ts";
import { selfCommand } from "../src/runtime.ts";
import { Topology } from "../src/tools/topology.ts";

const REPS = Number(Deno.env.get("STREAMS_REPS") ?? 3);
const PPS = Number(Deno.env.get("STREAMS_PPS") ?? 50_000);
const FP_SECONDS = Number(Deno.env.get("STREAMS_FP_SECONDS") ?? 600);
const sections = (Deno.env.get("STREAMS_SECTIONS") ?? "cost,clean").split(",");
const API = "http://127.0.0.1:8787";
/** A TS datagram carries 7 x 188 bytes: the generator's bitrate for a datagram rate. */
const BITS_PER_DATAGRAM = 7 * 188 * 8;

function gen(t: Topology, ns: string, iface: string, port: number, args: string[]) {
  return t.run(
    ns,
    selfCommand([
      "gen",
      "--group",
      "239.1.1.1",
      "--port",
      String(port),
      "--interface",
      iface,
      "--ttl",
      "8",
      "--json",
      ...args,
    ]),
    3_600_000,
  );
}

/** Relay core µs per datagram for rtp+ts at PPS, inspected or not. */
async function cost(
  inspect: boolean,
): Promise<{ coreUs: number; processUs: number; loss: number }> {
  const t = await Topology.create();
  try {
    const n = await t.chain();
    await setRps(t, n.relay, n.relayIn, "2");
    await setRps(t, n.sink, n.sinkIf, "1");
    const relay = await relayOn(
      t,
      n.relay,
      `worker_cpus: [1]\nrules:\n  - name: s\n    rate_pps: ${PPS}\n${
        inspect ? "    inspect: { mode: rtp+ts }\n" : ""
      }` +
        `    input: { interface: ${n.relayIn}, group: 239.1.1.1, port: 5004 }\n` +
        `    outputs: [{ interface: ${n.relayOut}, group: 239.9.9.1, port: 6004 }]\n`,
    );
    const count = PPS * 4;
    const busy0 = cpuBusyNs(1);
    const p0 = procTimes(relay.pid);
    const g = await gen(t, n.gen, n.genIf, 5004, [
      "--signal",
      "rtp+ts",
      "--count",
      String(count),
      "--bitrate",
      String(PPS * BITS_PER_DATAGRAM),
    ]);
    await new Promise((r) => setTimeout(r, 300));
    const busy1 = cpuBusyNs(1);
    const p1 = procTimes(relay.pid);
    const stats = JSON.parse((await t.run(n.relay, ["curl", "-sf", `${API}/api/v1/stats`])).stdout);
    await relay.stop();
    const sent = JSON.parse(g.stdout.trim().split("\n").pop()!).sent;
    const relayed = stats.totals.tx_sent;
    return {
      coreUs: (busy1 - busy0) / 1000 / Math.max(1, relayed),
      processUs: ((p1.user - p0.user) + (p1.sys - p0.sys)) * 10_000 / Math.max(1, relayed),
      loss: 100 * (sent - relayed) / Math.max(1, sent),
    };
  } finally {
    await t.destroy();
  }
}

const out: string[] = [
  `# Stream inspection, measured ${new Date().toISOString().slice(0, 10)}`,
  "",
];

if (sections.includes("cost")) {
  const off: number[] = [];
  const on: number[] = [];
  const lines: string[] = [];
  for (let rep = 0; rep < REPS; rep++) {
    for (const inspect of [false, true]) {
      const r = await cost(inspect);
      (inspect ? on : off).push(r.coreUs);
      lines.push(
        `| ${rep + 1} | ${inspect ? "rtp+ts" : "off"} | ${r.loss.toFixed(3)} | ${
          r.coreUs.toFixed(2)
        } | ${r.processUs.toFixed(2)} |`,
      );
      console.error(lines.at(-1));
    }
  }
  const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  out.push(
    `## Cost: RTP carrying 7 TS packets per datagram at ${PPS} datagrams/s, chain, ${REPS} paired runs`,
    "",
    "| run | inspect | loss % | relay core µs/datagram | relay process µs/datagram |",
    "|---:|---|---:|---:|---:|",
    ...lines,
    "",
    `Inspection on / off (relay core, medians): ${
      (median(on) / median(off)).toFixed(2)
    }x (target ≤ 1.3).`,
    "",
  );
}

if (sections.includes("clean")) {
  const t = await Topology.create();
  try {
    const n = await t.chain();
    const relay = await relayOn(
      t,
      n.relay,
      "rules:\n" +
        [[5004, "ts"], [5006, "ts"]].map(([port, mode], i) =>
          `  - name: clean${i}\n    inspect: { mode: ${mode} }\n` +
          `    input: { interface: ${n.relayIn}, group: 239.1.1.1, port: ${port} }\n` +
          `    outputs: [{ interface: ${n.relayOut}, group: 239.9.9.1, port: ${6000 + i} }]\n`
        ).join(""),
    );
    const count = Math.round(FP_SECONDS * 10_000_000 / BITS_PER_DATAGRAM);
    // Legal events every ~10 s: a duplicate packet and a discontinuity.
    const every = (start: number) =>
      Array.from({ length: Math.floor(count / 9500) }, (_, i) => start + i * 9500).filter((k) =>
        k < count
      );
    const legal = [
      "--fault",
      `legal-dup=${every(1000).join(",")}`,
      "--fault",
      `discontinuity=${every(5000).join(",")}`,
    ];
    await Promise.all([
      gen(t, n.gen, n.genIf, 5004, [
        "--signal",
        "ts",
        "--count",
        String(count),
        "--bitrate",
        "10000000",
        ...legal,
      ]),
      gen(t, n.gen, n.genIf, 5006, [
        "--signal",
        "ts",
        "--ts-size",
        "204",
        "--count",
        String(count),
        "--bitrate",
        "10000000",
        ...legal,
      ]),
    ]);
    const reports = JSON.parse(
      (await t.run(n.relay, ["curl", "-sf", `${API}/api/v1/streams`])).stdout,
    );
    await relay.stop();
    out.push(
      `## False positives: ${FP_SECONDS} s of clean 10 Mb/s TS, with a legal duplicate and a legal discontinuity every ~10 s`,
      "",
      "| stream | TS packets | null packets | indicators raised (all TR 101 290 counters, RTP none) | state |",
      "|---|---:|---:|---|---|",
    );
    for (const r of reports) {
      const raised = Object.entries(r.ts as Record<string, unknown>)
        .filter(([k, v]) =>
          typeof v === "number" && v > 0 &&
          !["packets", "packet_size", "null_packets", "pcr_interval_max_ms", "pcr_drift_ppm"]
            .includes(k)
        )
        .map(([k, v]) => `${k} ${v}`);
      out.push(
        `| ${r.rule} (${r.ts.packet_size} B) | ${r.ts.packets} | ${r.ts.null_packets} | ${
          raised.join(", ") || "none"
        } | ${r.state} |`,
      );
    }
    out.push("", "Target: none raised.", "");
  } finally {
    await t.destroy();
  }
}

const text = out.join("\n");
Deno.writeTextFileSync(new URL("./results/streams.md", import.meta.url).pathname, text + "\n");
console.log(text);
