/**
 * Jumbo frames end to end: every link of the chain at MTU 9000, 8,900-byte
 * datagrams relayed 4->4, 6->6, 4->6 and through a routed output.
 */
import assert from "node:assert/strict";
import { withTopology } from "../../src/tools/topology.ts";
import { rootTest } from "../helpers/netns.ts";
import { runGen, sleep, startRelay, startSink } from "../helpers/relay.ts";

rootTest(
  "root: 9000-byte MTU: 8,900-byte datagrams relayed 4->4, 6->6, 4->6 and routed, whole and intact",
  async () => {
    await withTopology(async (t) => {
      const n = await t.chain({ ipv6: true });
      for (
        const [ns, dev] of [[n.gen, n.genIf], [n.relay, n.relayIn], [n.relay, n.relayOut], [
          n.sink,
          n.sinkIf,
        ]]
      ) {
        const r = await t.run(ns, ["ip", "link", "set", dev, "mtu", "9000"]);
        assert.equal(r.code, 0, r.stderr);
      }
      const out = n.relayOut;
      const yaml = "rules:\n" +
        `  - { name: j44, input: { interface: ${n.relayIn}, group: 239.1.1.1, port: 5001 }, outputs: [{ interface: ${out}, group: 239.9.9.1, port: 6001 }] }\n` +
        `  - { name: j66, input: { interface: ${n.relayIn}, group: "ff3e::1:2", port: 5002 }, outputs: [{ interface: ${out}, group: "ff3e::9:2", port: 6002 }] }\n` +
        `  - { name: j46, input: { interface: ${n.relayIn}, group: 239.1.1.3, port: 5003 }, outputs: [{ interface: ${out}, group: "ff3e::9:3", port: 6003 }] }\n` +
        `  - { name: jr, input: { interface: ${n.relayIn}, group: 239.1.1.4, port: 5004 }, outputs: [{ egress: routed, address: 10.0.1.2, port: 6004 }] }\n`;
      const relay = await startRelay(t, n.relay, yaml);
      const sinks = [
        startSink(t, n.sink, {
          group: "239.9.9.1",
          port: 6001,
          iface: n.sinkIf,
          runId: 81,
          idleMs: 2000,
        }),
        startSink(t, n.sink, {
          group: "ff3e::9:2",
          port: 6002,
          iface: n.sinkIf,
          runId: 82,
          idleMs: 2000,
        }),
        startSink(t, n.sink, {
          group: "ff3e::9:3",
          port: 6003,
          iface: n.sinkIf,
          runId: 83,
          idleMs: 2000,
        }),
        startSink(t, n.sink, { address: "10.0.1.2", port: 6004, runId: 84, idleMs: 2000 }),
      ];
      await sleep(400);
      const count = 1000;
      const size = 8900;
      for (
        const [group, port, runId] of [["239.1.1.1", 5001, 81], ["ff3e::1:2", 5002, 82], [
          "239.1.1.3",
          5003,
          83,
        ], ["239.1.1.4", 5004, 84]] as const
      ) {
        const g = await runGen(t, n.gen, {
          group,
          port,
          count,
          rate: 1000,
          iface: n.genIf,
          runId,
          size,
        });
        assert.equal(g.sent, count);
      }
      const results = await Promise.all(sinks.map((s) => s.result));
      const { stats } = await relay.stop();
      for (const [i, name] of ["4->4", "6->6", "4->6", "routed"].entries()) {
        assert.equal(results[i].unique, count, `${name}: ${results[i].unique} of ${count}`);
        assert.equal(results[i].corrupted, 0, `${name}: payloads intact`);
        assert.equal(results[i].duplicates, 0);
      }
      assert.ok(stats);
      assert.equal(stats.totals.tx_too_big, 0);
    });
  },
);
