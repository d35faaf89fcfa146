/**
 * Stream health on the data path, end to end: `mcr gen --signal` sends RTP
 * and MPEG-TS with faults made on purpose (its --json lists where each
 * went: the ground truth), mcr relays the stream with `inspect` on, and its
 * counters must equal what was injected, exactly; tshark, reading a capture
 * of the same traffic, is the independent decoder for RTP loss, sequence
 * errors, jitter and TS continuity.
 */
import assert from "node:assert/strict";
import { selfCommand } from "../../src/runtime.ts";
import type { ChainNames, Topology } from "../../src/tools/topology.ts";
import { withTopology } from "../../src/tools/topology.ts";
import { StreamsResponse } from "../../src/api/responses.ts";
import { rootTest } from "../helpers/netns.ts";
import { tsharkRtpStreams } from "../helpers/tshark.ts";
import { sleep, startCapture, startRelay } from "../helpers/relay.ts";

const API = "http://127.0.0.1:8787";

function ruleYaml(
  n: ChainNames,
  name: string,
  inPort: number,
  outPort: number,
  inspect: string,
): string {
  return `  - name: ${name}\n    inspect: ${inspect}\n` +
    `    input: { interface: ${n.relayIn}, group: 239.1.1.1, port: ${inPort} }\n` +
    `    outputs: [{ interface: ${n.relayOut}, group: 239.9.9.1, port: ${outPort} }]\n`;
}

interface GenSignal {
  sent: number;
  signal: { datagrams: number; injected: Record<string, number[]> };
}

async function gen(t: Topology, n: ChainNames, port: number, args: string[]): Promise<GenSignal> {
  const r = await t.run(
    n.gen,
    selfCommand([
      "gen",
      "--group",
      "239.1.1.1",
      "--port",
      String(port),
      "--interface",
      n.genIf,
      "--ttl",
      "8",
      "--json",
      ...args,
    ]),
    300_000,
  );
  if (r.code !== 0) throw new Error(`mcr gen failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!);
}

async function streams(t: Topology, ns: string) {
  const body = JSON.parse((await t.run(ns, ["curl", "-sf", `${API}/api/v1/streams`])).stdout);
  return StreamsResponse.parse(body); // the live answer fits the documented schema
}

/** tshark's analysis of the stream to 239.1.1.1 in a capture (tests/helpers/tshark.ts). */
async function tsharkRtp(t: Topology, ns: string, pcap: string, port: number) {
  const rows = await tsharkRtpStreams(t, ns, pcap, port);
  const row = rows.find((r) => r.destination === "239.1.1.1");
  if (!row) {
    throw new Error(`no RTP stream to 239.1.1.1 in tshark's analysis: ${JSON.stringify(rows)}`);
  }
  return row;
}

rootTest(
  "streams: RTP loss, duplicates and reordering counted exactly as injected; tshark reads the same capture and finds the same loss",
  async () => {
    await withTopology(async (t) => {
      const n = await t.chain();
      const relay = await startRelay(
        t,
        n.relay,
        `rules:\n${ruleYaml(n, "cam", 5004, 6004, "{ mode: rtp }")}`,
      );
      const pcap = `/tmp/mcr-streams-rtp-${Deno.pid}.pcap`;
      const capture = await startCapture(t, n.relay, [
        "tcpdump",
        "-i",
        n.relayIn,
        "-nn",
        "-U",
        "-w",
        pcap,
        "udp port 5004",
      ]);
      try {
        const g = await gen(t, n, 5004, [
          "--signal",
          "rtp",
          "--count",
          "4000",
          "--rate",
          "1000",
          "--size",
          "400",
          "--fault",
          "drop=100,200..204,3000",
          "--fault",
          "dup=500,600",
          "--fault",
          "reorder=700,900",
        ]);
        await sleep(500);
        capture.kill("SIGTERM");
        await capture.status;
        const [s] = await streams(t, n.relay);
        const injected = g.signal.injected;
        assert.equal(s.rule, "cam");
        assert.equal(s.packets, g.sent, "every datagram sent was inspected");
        assert.equal(s.rtp!.lost, injected.drop.length, JSON.stringify(s.rtp));
        assert.equal(s.rtp!.duplicates, injected.dup.length);
        assert.equal(s.rtp!.reordered, injected.reorder.length);
        assert.equal(s.rtp!.restarts, 0);
        assert.equal(s.rtp!.invalid, 0);
        const ts = await tsharkRtp(t, n.relay, pcap, 5004);
        // tshark's "Lost" is expected minus received: the duplicates cancel as many losses.
        assert.equal(ts.lost, injected.drop.length - injected.dup.length, ts.row);
        assert.equal(ts.problems, true, "tshark sees the sequence errors too");
        assert.equal(s.state, "warning", "loss within the last 10 s");
        assert.match(s.reasons.join("; "), /RTP loss/);
      } finally {
        await Deno.remove(pcap).catch(() => {});
        await relay.stop();
      }
    });
  },
);

rootTest(
  "streams: a sender restart (new SSRC, a sequence jump) is followed within a few packets: counted, no loss invented",
  async () => {
    await withTopology(async (t) => {
      const n = await t.chain();
      const relay = await startRelay(
        t,
        n.relay,
        `rules:\n${ruleYaml(n, "cam", 5004, 6004, "{ mode: rtp }")}`,
      );
      try {
        await gen(t, n, 5004, [
          "--signal",
          "rtp",
          "--count",
          "2000",
          "--rate",
          "1000",
          "--size",
          "200",
          "--fault",
          "ssrc=800",
          "--fault",
          "seq-jump=1500:20000",
        ]);
        const [s] = await streams(t, n.relay);
        assert.equal(s.rtp!.ssrc_changes, 1);
        assert.equal(s.rtp!.restarts, 1, "the jump is a restart, confirmed by the next packet");
        assert.equal(s.rtp!.lost, 0);
        assert.equal(s.rtp!.packets, 2000);
      } finally {
        await relay.stop();
      }
    });
  },
);

rootTest(
  "streams: TR 101 290 priority 1 faults in RTP-carried TS counted exactly (sync, continuity, PAT, PMT, PID); tshark counts the same continuity errors and the same jitter within 5 %; mcr health exits 2 for that rule and 0 for a clean one beside it, and the event stream carries the transition",
  async () => {
    await withTopology(async (t) => {
      const n = await t.chain();
      const relay = await startRelay(
        t,
        n.relay,
        `rules:\n${ruleYaml(n, "bad", 5004, 6004, "{ mode: rtp+ts }")}${
          ruleYaml(n, "good", 5006, 6006, "{ mode: ts }")
        }`,
      );
      const events = t.spawn(n.relay, ["curl", "-sN", `${API}/api/v1/events`], { stderr: "null" });
      const eventText = new Response(events.stdout).text();
      const pcap = `/tmp/mcr-streams-ts-${Deno.pid}.pcap`;
      const capture = await startCapture(t, n.relay, [
        "tcpdump",
        "-i",
        n.relayIn,
        "-nn",
        "-U",
        "-w",
        pcap,
        "udp port 5004",
      ]);
      try {
        // 10 Mb/s: 950 datagrams/s; 6000 datagrams are about 6.3 s.
        const [bad] = await Promise.all([
          gen(t, n, 5004, [
            "--signal",
            "rtp+ts",
            "--count",
            "6000",
            "--bitrate",
            "10000000",
            "--fault",
            "sync=1000",
            "--fault",
            "cc=1500,2500",
            "--fault",
            "no-pat=3000..3700",
            "--fault",
            "no-pmt=4000..4700",
            "--fault",
            "stop-pid=0x102@5000..5900",
            "--fault",
            "legal-dup=300",
            "--fault",
            "discontinuity=400",
          ]),
          gen(t, n, 5006, ["--signal", "ts", "--count", "6000", "--bitrate", "10000000"]),
        ]);
        capture.kill("SIGTERM");
        await capture.status;
        const all = await streams(t, n.relay);
        const b = all.find((x) => x.rule === "bad")!;
        const g = all.find((x) => x.rule === "good")!;
        const c = b.ts as Record<string, number>;
        const inj = bad.signal.injected;
        assert.equal(c.sync_byte_error, inj.sync.length, JSON.stringify(c));
        assert.equal(c.sync_loss, 0, "one bad sync byte does not lose sync");
        // A packet whose sync byte is bad cannot be read: its PID's next packet shows a gap
        // (the first packet of every datagram carries payload), so each sync fault is also one
        // continuity error; the legal duplicate and the discontinuity are none.
        assert.equal(c.cc_error, inj.cc.length + inj.sync.length, JSON.stringify(inj));
        assert.equal(c.pat_error, 1, "one PAT gap of more than 500 ms");
        assert.equal(c.pmt_error, 1, "one PMT gap");
        assert.equal(c.pid_error, 0, "900 ms without audio is under the 5 s PID period");
        for (
          const k of [
            "transport_error",
            "crc_error",
            "pcr_repetition_error",
            "pcr_discontinuity_error",
            "cat_error",
          ]
        ) {
          assert.equal(c[k], 0, k);
        }
        assert.equal(b.state, "critical");
        const gc = g.ts as Record<string, number>;
        for (
          const k of [
            "sync_loss",
            "sync_byte_error",
            "pat_error",
            "cc_error",
            "pmt_error",
            "pid_error",
            "transport_error",
            "crc_error",
            "pcr_repetition_error",
            "pcr_discontinuity_error",
            "pts_error",
            "cat_error",
          ]
        ) {
          assert.equal(gc[k], 0, `clean stream: ${k}`);
        }
        assert.equal(g.state, "ok");
        // tshark's MPEG-TS dissector, on the same capture: its continuity-drop expert infos.
        const tsDrops = (await t.run(n.relay, [
          "tshark",
          "-r",
          pcap,
          "-d",
          "udp.port==5004,rtp",
          "-Y",
          "mp2t.cc.drop",
          "-T",
          "fields",
          "-e",
          "frame.number",
        ])).stdout.trim().split("\n").filter((l) => l !== "").length;
        assert.equal(tsDrops, c.cc_error, "tshark finds the same continuity errors");
        // RTP jitter (payload type 33: a 90 kHz clock tshark knows too): the same RFC 3550
        // estimate from the same kernel receive times, within 5 % or one timestamp unit.
        const rtpTs = await tsharkRtp(t, n.relay, pcap, 5004);
        const ours = b.rtp!.jitter_max_ms;
        assert.ok(
          Math.abs(ours - rtpTs.maxJitter) <= Math.max(0.05 * rtpTs.maxJitter, 1 / 90),
          `max jitter: mcr ${ours} ms, tshark ${rtpTs.maxJitter} ms (${rtpTs.row})`,
        );
        // The Nagios check judges each rule on its own stream.
        const badCheck = await t.run(
          n.relay,
          selfCommand(["health", "--rule", "bad", "--api", API]),
        );
        const goodCheck = await t.run(
          n.relay,
          selfCommand(["health", "--rule", "good", "--api", API]),
        );
        assert.equal(badCheck.code, 2, badCheck.stdout);
        assert.match(badCheck.stdout, /stream bad/);
        assert.equal(goodCheck.code, 0, goodCheck.stdout);
        await sleep(1500); // the once-a-second sampler publishes the transition
      } finally {
        events.kill("SIGTERM");
        await Deno.remove(pcap).catch(() => {});
        await relay.stop();
      }
      const text = await eventText;
      const transition = text.split("\n").filter((l) =>
        l.startsWith("data:") && l.includes('"rule":"bad"')
      )
        .map((l) => JSON.parse(l.slice(5))).find((e) => e.to === "critical");
      assert.ok(transition, `a stream event for bad going critical:\n${text.slice(0, 2000)}`);
      assert.equal(transition.from, "ok");
      assert.match(transition.indicator, /TR 101 290 1\./);
    });
  },
);

rootTest(
  "streams: TR 101 290 priority 2 faults counted exactly (transport error, CRC, PCR repetition and discontinuity, CAT), in 204-byte TS over UDP; /metrics with inspection passes promtool",
  async () => {
    await withTopology(async (t) => {
      const n = await t.chain();
      const relay = await startRelay(
        t,
        n.relay,
        `rules:\n${ruleYaml(n, "p2", 5004, 6004, "{ mode: ts }")}`,
      );
      try {
        const g = await gen(t, n, 5004, [
          "--signal",
          "ts",
          "--ts-size",
          "204",
          "--count",
          "5000",
          "--bitrate",
          "10000000",
          "--fault",
          "tei=500,501",
          "--fault",
          "crc=1000",
          "--fault",
          "pcr-gap=2000..2200",
          "--fault",
          "scramble=3000",
        ]);
        const [s] = await streams(t, n.relay);
        const c = s.ts as Record<string, number>;
        const inj = g.signal.injected;
        assert.equal(c.packet_size, 204);
        assert.equal(c.transport_error, inj.tei.length, JSON.stringify(c));
        assert.equal(c.crc_error, inj.crc.length);
        // 200 datagrams without PCR at 950 datagrams/s: one gap of about 210 ms, which is both
        // a repetition error (> 100 ms between PCRs) and a discontinuity (> 100 ms between values).
        assert.equal(c.pcr_repetition_error, 1);
        assert.equal(c.pcr_discontinuity_error, 1);
        assert.equal(c.cat_error, 1, "scrambled audio without a CAT");
        for (
          const k of [
            "sync_loss",
            "sync_byte_error",
            "pat_error",
            "cc_error",
            "pmt_error",
            "pid_error",
          ]
        ) {
          assert.equal(c[k], 0, k);
        }
        assert.equal(s.state, "warning");
        const metrics = (await t.run(n.relay, ["curl", "-sf", `${API}/metrics`])).stdout;
        assert.match(metrics, /mcr_stream_ts_transport_errors_total\{rule="p2"\} 2/);
        const dir = Deno.makeTempDirSync();
        Deno.writeTextFileSync(`${dir}/m.txt`, metrics);
        const check = await new Deno.Command("promtool", {
          args: ["check", "metrics"],
          stdin: "piped",
          stdout: "piped",
          stderr: "piped",
        }).spawn();
        const w = check.stdin.getWriter();
        await w.write(new TextEncoder().encode(metrics));
        await w.close();
        const out = await check.output();
        Deno.removeSync(dir, { recursive: true });
        const problems = new TextDecoder().decode(out.stderr) +
          new TextDecoder().decode(out.stdout);
        assert.equal(out.code, 0, problems);
      } finally {
        await relay.stop();
      }
    });
  },
);
