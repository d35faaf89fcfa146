/**
 * End-to-end data plane in network namespaces: generator, relay and
 * receiver each in a namespace of their own, scored at the receiver (a plain
 * UDP socket: the kernel drops packets with bad checksums, so every packet
 * counted arrived valid).
 */
import assert from "node:assert/strict";
import { Topology, withTopology } from "../../src/tools/topology.ts";
import { rootTest } from "../helpers/netns.ts";
import { assertConservation, runGen, sleep, startRelay, startSink } from "../helpers/relay.ts";

function rule(
  name: string,
  input: string,
  group: string,
  port: number,
  outputs: string[],
  extra = "",
): string {
  return [
    `  - name: ${name}`,
    `    input: { interface: ${input}, group: ${group}, port: ${port}${extra} }`,
    `    outputs:`,
    ...outputs.map((o) => `      - ${o}`),
  ].join("\n");
}

async function chainRun(topo: Topology, count: number, rate: number) {
  const n = await topo.chain();
  const relay = await startRelay(
    topo,
    n.relay,
    `rules:\n${
      rule("r1", n.relayIn, "239.1.1.1", 5001, [
        `{ interface: ${n.relayOut}, group: 239.9.9.9, port: 5099, ttl: 7 }`,
      ])
    }\n`,
  );
  const sink = startSink(topo, n.sink, {
    group: "239.9.9.9",
    port: 5099,
    iface: n.sinkIf,
    expect: count,
    runId: 11,
  });
  await sleep(300);
  const gen = await runGen(topo, n.gen, {
    group: "239.1.1.1",
    port: 5001,
    count,
    rate,
    size: 1024,
    iface: n.genIf,
    runId: 11,
  });
  const got = await sink.result;
  const { code, stats } = await relay.stop();
  return { gen, got, code, stats };
}

rootTest(
  "root: chain topology relays every packet exactly once, intact, with the configured TTL",
  async () => {
    await withTopology(async (topo) => {
      const { gen, got, code, stats } = await chainRun(topo, 20_000, 10_000);
      assert.equal(gen.sent, 20_000);
      assert.equal(got.unique, 20_000, `receiver got ${got.unique} of 20000`);
      assert.equal(got.duplicates, 0);
      assert.equal(got.corrupted, 0);
      assert.equal(got.last_ttl, 7);
      assert.equal(code, 0, "relay exits 0 on SIGTERM");
      assert.ok(stats, "relay wrote its final counters");
      assert.equal(stats.totals.tx_sent, 20_000);
      assert.equal(stats.rules[0].counters.packets, 20_000);
      assert.equal(stats.rules[0].outputs[0].counters.packets, 20_000);
      assert.equal(stats.totals.tx_ring_full, 0);
      assertConservation(stats);
    });
  },
);

rootTest(
  "root: dual-bridge topology relays across two bridges with the relay in its own namespace",
  async () => {
    await withTopology(async (topo) => {
      const n = await topo.dualBridge();
      const relay = await startRelay(
        topo,
        n.relay,
        `rules:\n${
          rule("bridge", n.relayIn, "239.1.1.1", 5001, [
            `{ interface: ${n.relayOut}, group: 239.9.9.9, port: 5099 }`,
          ])
        }\n`,
      );
      const sink = startSink(topo, n.sink, {
        group: "239.9.9.9",
        port: 5099,
        iface: n.sinkIf,
        expect: 20_000,
        runId: 12,
      });
      await sleep(300);
      const gen = await runGen(topo, n.gen, {
        group: "239.1.1.1",
        port: 5001,
        count: 20_000,
        rate: 10_000,
        iface: n.genIf,
        runId: 12,
      });
      const got = await sink.result;
      const { stats } = await relay.stop();
      assert.equal(gen.sent, 20_000);
      assert.equal(got.unique, 20_000);
      assert.equal(got.duplicates, 0);
      assert.equal(got.corrupted, 0);
      assert.equal(got.last_ttl, 3, "no ttl set: the sender's TTL (4) less one, like a router");
      assert.ok(stats);
      assertConservation(stats);
    });
  },
);

rootTest(
  "root: fan-out 1:3 over two interfaces, two rules at once, and a source filter",
  async () => {
    await withTopology(async (topo) => {
      const n = await topo.chain();
      // A second receiver namespace on a second relay output interface.
      const sink2 = await topo.addNamespace("sink2");
      const out2 = `${topo.prefix}v4`;
      const sink2If = `${topo.prefix}v5`;
      await topo.addVeth(n.relay, out2, sink2, sink2If);
      await topo.addAddress(n.relay, out2, "10.0.2.1/24");
      await topo.addAddress(sink2, sink2If, "10.0.2.2/24");
      await topo.routeMulticast(sink2, sink2If);
      // A second sender address on the generator's link (not allowed by the source filter).
      await topo.addAddress(n.gen, n.genIf, "10.0.0.5/24");

      const config = `rules:\n` +
        rule("fan", n.relayIn, "239.1.1.1", 5001, [
          `{ interface: ${n.relayOut}, group: 239.9.9.1, port: 6001 }`,
          `{ interface: ${n.relayOut}, group: 239.9.9.2, port: 6002 }`,
          `{ interface: ${out2}, group: 239.9.9.3, port: 6003 }`,
        ]) + "\n" +
        rule("filtered", n.relayIn, "239.1.1.2", 5002, [
          `{ interface: ${out2}, group: 239.9.9.4, port: 6004 }`,
        ], ", source: 10.0.0.1") +
        "\n";
      const relay = await startRelay(topo, n.relay, config);
      const sinks = [
        startSink(topo, n.sink, { group: "239.9.9.1", port: 6001, iface: n.sinkIf, runId: 21 }),
        startSink(topo, n.sink, { group: "239.9.9.2", port: 6002, iface: n.sinkIf, runId: 21 }),
        startSink(topo, sink2, { group: "239.9.9.3", port: 6003, iface: sink2If, runId: 21 }),
        startSink(topo, sink2, { group: "239.9.9.4", port: 6004, iface: sink2If, runId: 22 }),
      ];
      await sleep(300);
      const [a, b, c] = await Promise.all([
        runGen(topo, n.gen, {
          group: "239.1.1.1",
          port: 5001,
          count: 5000,
          rate: 5000,
          iface: n.genIf,
          runId: 21,
        }),
        runGen(topo, n.gen, {
          group: "239.1.1.2",
          port: 5002,
          count: 3000,
          rate: 3000,
          sourceIp: "10.0.0.1",
          runId: 22,
        }),
        runGen(topo, n.gen, {
          group: "239.1.1.2",
          port: 5002,
          count: 2000,
          rate: 2000,
          sourceIp: "10.0.0.5",
          runId: 23,
        }),
      ]);
      assert.equal(a.sent + b.sent + c.sent, 10_000);
      const [s1, s2, s3, s4] = await Promise.all(sinks.map((s) => s.result));
      for (const s of [s1, s2, s3]) {
        assert.equal(s.unique, 5000);
        assert.equal(s.duplicates, 0);
        assert.equal(s.corrupted, 0);
      }
      assert.equal(s4.unique, 3000, "only the allowed sender is relayed");
      assert.equal(s4.foreign ?? 0, 0, "packets of the other sender never arrive");
      const { stats } = await relay.stop();
      assert.ok(stats);
      assert.equal(
        stats.totals.drop_no_match,
        2000,
        "the other sender's packets are counted as no_match",
      );
      assertConservation(stats);
    });
  },
);

rootTest(
  "root: two workers with PACKET_FANOUT deliver no duplicates and keep per-flow order",
  async () => {
    await withTopology(async (topo) => {
      const n = await topo.chain();
      const config = `workers: 2\nrules:\n` +
        rule("a", n.relayIn, "239.1.1.1", 5001, [
          `{ interface: ${n.relayOut}, group: 239.9.9.1, port: 6001 }`,
        ]) + "\n" +
        rule("b", n.relayIn, "239.1.1.2", 5002, [
          `{ interface: ${n.relayOut}, group: 239.9.9.2, port: 6002 }`,
        ]) + "\n";
      const relay = await startRelay(topo, n.relay, config);
      const s1 = startSink(topo, n.sink, {
        group: "239.9.9.1",
        port: 6001,
        iface: n.sinkIf,
        runId: 31,
      });
      const s2 = startSink(topo, n.sink, {
        group: "239.9.9.2",
        port: 6002,
        iface: n.sinkIf,
        runId: 32,
      });
      await sleep(300);
      await Promise.all([
        runGen(topo, n.gen, {
          group: "239.1.1.1",
          port: 5001,
          count: 10_000,
          rate: 5000,
          iface: n.genIf,
          runId: 31,
        }),
        runGen(topo, n.gen, {
          group: "239.1.1.2",
          port: 5002,
          count: 10_000,
          rate: 5000,
          iface: n.genIf,
          runId: 32,
        }),
      ]);
      const [r1, r2] = await Promise.all([s1.result, s2.result]);
      const { stats } = await relay.stop();
      for (const r of [r1, r2]) {
        assert.equal(r.unique, 10_000);
        assert.equal(r.duplicates, 0);
        assert.equal(r.reordered, 0);
      }
      assert.ok(stats);
      assert.equal(stats.workers.length, 2);
      assert.equal(stats.totals.tx_sent, 20_000, "each packet relayed by exactly one worker");
    });
  },
);

rootTest(
  "root: non-matching traffic is never forwarded and the relay never re-receives its own output",
  async () => {
    await withTopology(async (topo) => {
      const n = await topo.chain();
      // Output on the input interface too (another group): must not come back in.
      const config = `rules:\n` + rule("r", n.relayIn, "239.1.1.1", 5001, [
        `{ interface: ${n.relayOut}, group: 239.9.9.9, port: 5099 }`,
        `{ interface: ${n.relayIn}, group: 239.8.8.8, port: 5088 }`,
      ]) + "\n";
      const relay = await startRelay(topo, n.relay, config);
      const wrongPort = startSink(topo, n.sink, {
        group: "239.9.9.9",
        port: 5099,
        iface: n.sinkIf,
        runId: 41,
      });
      await sleep(300);
      await runGen(topo, n.gen, {
        group: "239.1.1.1",
        port: 5009,
        count: 1000,
        rate: 2000,
        iface: n.genIf,
        runId: 40,
      });
      await runGen(topo, n.gen, {
        group: "239.7.7.7",
        port: 5001,
        count: 1000,
        rate: 2000,
        iface: n.genIf,
        runId: 40,
      });
      await runGen(topo, n.gen, {
        group: "239.1.1.1",
        port: 5001,
        count: 1000,
        rate: 2000,
        iface: n.genIf,
        runId: 41,
      });
      const got = await wrongPort.result;
      const link = await topo.run(n.relay, ["ip", "-s", "-j", "link", "show", n.relayIn]);
      const ifRx = JSON.parse(link.stdout)[0].stats64.rx.packets as number;
      const { stats } = await relay.stop();
      assert.ok(ifRx >= 3000, `the input interface received all three streams (${ifRx})`);
      assert.equal(got.unique, 1000, "only the matching stream arrives");
      assert.equal(got.foreign ?? 0, 0, "no packet of the non-matching streams arrives");
      assert.ok(stats);
      assert.equal(stats.rules[0].counters.packets, 1000);
      assert.equal(stats.totals.tx_sent, 2000, "two copies per matching packet");
      // The kernel filter kept the 2000 non-matching packets out of the ring, and
      // the 1000 copies sent back out of the input interface never came in again.
      assert.equal(stats.totals.rx_packets, 1000);
      assert.equal(stats.totals.matched, 1000);
      assertConservation(stats);
    });
  },
);

rootTest(
  "root: an (S,G) rule joins source-specifically: the IGMPv3 report names the source, and only that sender is relayed",
  async () => {
    await withTopology(async (t) => {
      const n = await t.chain();
      await t.addAddress(n.gen, n.genIf, "10.0.0.5/24");
      // Listen for the relay's membership report on the generator's side of the link.
      const capture = t.spawn(n.gen, [
        "tcpdump",
        "-i",
        n.genIf,
        "-n",
        "-vv",
        "-l",
        "-c",
        "1",
        "igmp and src 10.0.0.2",
      ]);
      const captured = new Response(capture.stdout).text();
      await sleep(1000);
      const relay = await startRelay(
        t,
        n.relay,
        `rules:\n` +
          rule("ssm", n.relayIn, "239.1.1.7", 5007, [
            `{ interface: ${n.relayOut}, group: 239.9.9.7, port: 6007 }`,
          ], ", source: 10.0.0.1") + "\n",
      );
      const report = await Promise.race([captured, sleep(8000).then(() => "")]);
      try {
        capture.kill("SIGTERM");
      } catch { /* exited after one packet */ }
      const joined = (await t.run(n.relay, ["cat", "/proc/net/mcfilter"])).stdout;
      const sink = startSink(t, n.sink, { group: "239.9.9.7", port: 6007, iface: n.sinkIf });
      await sleep(300);
      await Promise.all([
        runGen(t, n.gen, {
          group: "239.1.1.7",
          port: 5007,
          count: 2000,
          rate: 2000,
          sourceIp: "10.0.0.1",
          runId: 81,
        }),
        runGen(t, n.gen, {
          group: "239.1.1.7",
          port: 5007,
          count: 2000,
          rate: 2000,
          sourceIp: "10.0.0.5",
          runId: 82,
        }),
      ]);
      const got = await sink.result;
      const { stats } = await relay.stop();
      assert.match(report, /igmp v3 report/i, report);
      assert.match(report, /gaddr 239\.1\.1\.7 (allow|is_in) \{ 10\.0\.0\.1 \}/, report);
      assert.match(joined, /0xef010107\s+0x0a000001/i, "the kernel holds the (S,G) filter");
      assert.equal(got.unique, 2000, "only the named sender is relayed");
      assert.equal(got.foreign ?? 0, 0);
      assert.ok(stats);
      assert.equal(stats.totals.matched, 2000);
    });
  },
);
