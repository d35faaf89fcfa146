/**
 * Routed egress and unicast inputs, end to end: an output handed to a kernel
 * UDP socket reaches a unicast receiver two hops away through a router
 * namespace (its TTL shows the router's decrement), IPv4 and IPv6; and a
 * unicast stream sent to the relay's own address is relayed to a multicast
 * group, with the host never answering it with ICMP port unreachable.
 */
import assert from "node:assert/strict";
import { withTopology } from "../../src/tools/topology.ts";
import { rootTest } from "../helpers/netns.ts";
import { runGen, sleep, startRelay, startSink } from "../helpers/relay.ts";

rootTest(
  "root: a routed unicast output delivers to a receiver two hops away, IPv4 and (translated) IPv6; a routed group leaves by its interface",
  async () => {
    await withTopology(async (t) => {
      const n = await t.routedChain({ ipv6: true });
      const relay = await startRelay(
        t,
        n.relay,
        [
          "rules:",
          "  - name: to-unicast",
          `    input: { interface: ${n.relayIn}, group: 239.1.1.1, port: 5001 }`,
          "    outputs:",
          "      - { egress: routed, address: 10.0.2.2, port: 6000, ttl: 9 }",
          '      - { egress: routed, address: "2001:db8:2::2", port: 6006, ttl: 9 }',
          `      - { egress: routed, interface: ${n.relayOut}, group: 239.7.7.7, port: 6007, ttl: 2 }`,
          "",
        ].join("\n"),
      );
      const sink4 = startSink(t, n.sink, {
        address: "10.0.2.2",
        port: 6000,
        expect: 10_000,
        runId: 91,
      });
      const sink6 = startSink(t, n.sink, {
        address: "2001:db8:2::2",
        port: 6006,
        expect: 10_000,
        runId: 91,
      });
      // The routed group is received on the router's side of the relay's output link.
      const sinkGroup = startSink(t, n.router, {
        group: "239.7.7.7",
        port: 6007,
        iface: n.routerIn,
        expect: 10_000,
        runId: 91,
      });
      await sleep(300);
      const gen = await runGen(t, n.gen, {
        group: "239.1.1.1",
        port: 5001,
        count: 10_000,
        rate: 10_000,
        iface: n.genIf,
        runId: 91,
      });
      const [got4, got6, gotGroup] = await Promise.all([
        sink4.result,
        sink6.result,
        sinkGroup.result,
      ]);
      const { stats } = await relay.stop();
      assert.equal(gen.sent, 10_000);
      assert.equal(got4.unique, 10_000, `IPv4 receiver got ${got4.unique} of 10000`);
      assert.equal(got4.corrupted, 0);
      assert.equal(got4.last_ttl, 8, "TTL 9 less the router's hop");
      assert.equal(got6.unique, 10_000, `IPv6 receiver got ${got6.unique} of 10000`);
      assert.equal(got6.last_ttl, 8, "hop limit 9 less the router's hop");
      assert.equal(gotGroup.unique, 10_000, `group receiver got ${gotGroup.unique} of 10000`);
      assert.equal(gotGroup.last_ttl, 2, "the output's TTL");
      assert.ok(stats);
      const outs = stats.rules[0].outputs;
      assert.equal(outs[0].counters.packets, 10_000, "routed sends are counted like ring sends");
      assert.equal(outs[1].counters.packets, 10_000);
      assert.equal(outs[0].counters.errors + outs[0].counters.ring_full, 0);
      // One sendmmsg carries at least one datagram: never more calls than routed datagrams. (How a
      // batch fills when several datagrams are ready is specified in tests/dataplane/ipv6_test.ts;
      // at 10k pps in frames mode most batches hold one packet, as they should for latency.)
      let routedSent = 0;
      for (const o of outs) if (o.egress === "routed") routedSent += o.counters.packets;
      assert.ok(routedSent >= 20_000, `routed datagrams: ${routedSent}`);
      assert.ok(
        stats.totals.routed_batches > 0 && stats.totals.routed_batches <= routedSent,
        `${stats.totals.routed_batches} sendmmsg calls`,
      );
    });
  },
);

rootTest(
  "root: a unicast input is relayed to a multicast output, and the host sends no port unreachable",
  async () => {
    await withTopology(async (t) => {
      const n = await t.chain();
      const relay = await startRelay(
        t,
        n.relay,
        [
          "rules:",
          "  - name: from-unicast",
          `    input: { interface: ${n.relayIn}, address: 10.0.0.2, port: 5000 }`,
          `    outputs: [{ interface: ${n.relayOut}, group: 239.9.9.5, port: 6005 }]`,
          "",
        ].join("\n"),
      );
      const unreachBefore = await icmpOutDestUnreachs(t, n.relay);
      const sink = startSink(t, n.sink, {
        group: "239.9.9.5",
        port: 6005,
        iface: n.sinkIf,
        expect: 5000,
        runId: 92,
      });
      await sleep(300);
      const gen = await runGen(t, n.gen, {
        address: "10.0.0.2",
        port: 5000,
        count: 5000,
        rate: 5000,
        runId: 92,
      });
      const got = await sink.result;
      const unreachAfter = await icmpOutDestUnreachs(t, n.relay);
      const { stats } = await relay.stop();
      assert.equal(gen.sent, 5000);
      assert.equal(got.unique, 5000, `receiver got ${got.unique} of 5000`);
      assert.equal(got.corrupted, 0);
      assert.equal(unreachAfter - unreachBefore, 0, "the absorbing socket keeps the host quiet");
      assert.ok(stats);
      assert.equal(stats.rules[0].counters.packets, 5000);
    });
  },
);

/** The namespace's Icmp OutDestUnreachs counter (/proc/net/snmp). */
async function icmpOutDestUnreachs(
  t: { run: (ns: string, argv: string[]) => Promise<{ stdout: string }> },
  ns: string,
) {
  const lines = (await t.run(ns, ["cat", "/proc/net/snmp"])).stdout.split("\n").filter((l) =>
    l.startsWith("Icmp:")
  );
  const names = lines[0].split(/\s+/);
  const values = lines[1].split(/\s+/);
  return Number(values[names.indexOf("OutDestUnreachs")]);
}
