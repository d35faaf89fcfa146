/**
 * VLANs on a trunk: one veth carries untagged, VID 100, VID 200 and QinQ
 * (802.1ad 300, then 802.1Q 100) traffic to the same group and port (frames
 * written by hand: this kernel has no VLAN devices). The kernel takes the
 * outer tag into the ring header; each rule names its VLAN. The output
 * tagged 42 is checked in a capture at the receiver.
 */
import assert from "node:assert/strict";
import { withTopology } from "../../src/tools/topology.ts";
import { DEV_RUN_FLAGS } from "../../src/runtime.ts";
import { rootTest } from "../helpers/netns.ts";
import { sleep, startCapture, startRelay, startSink } from "../helpers/relay.ts";

rootTest(
  "root: a trunk with untagged, VID 100, VID 200 and QinQ traffic to one group: each rule gets exactly its own VLAN, and a tagged output leaves with its tag",
  async () => {
    await withTopology(async (t) => {
      const n = await t.chain();
      const input = `interface: ${n.relayIn}, group: 239.1.1.1, port: 5001`;
      const yaml = "rules:\n" +
        `  - { name: untagged, input: { ${input} }, outputs: [{ interface: ${n.relayOut}, group: 239.9.9.1, port: 6001 }] }\n` +
        `  - { name: v100, input: { ${input}, vlan: 100 }, outputs: [{ interface: ${n.relayOut}, group: 239.9.9.2, port: 6002 }] }\n` +
        `  - { name: v200, input: { ${input}, vlan: 200 }, outputs: [{ interface: ${n.relayOut}, group: 239.9.9.3, port: 6003 }] }\n` +
        `  - { name: qinq, input: { ${input}, outer_vlan: 300, vlan: 100 }, outputs: [{ interface: ${n.relayOut}, group: 239.9.9.4, port: 6004, vlan: 42 }] }\n`;
      const relay = await startRelay(t, n.relay, yaml);
      const count = 500;
      const sinks = [1, 2, 3].map((i) =>
        startSink(t, n.sink, {
          group: `239.9.9.${i}`,
          port: 6000 + i,
          iface: n.sinkIf,
          runId: 59 + i,
          idleMs: 2000,
        })
      );
      const pcap = `${Deno.makeTempDirSync()}/tagged.pcap`;
      const capture = await startCapture(t, n.sink, [
        "tcpdump",
        "-i",
        n.sinkIf,
        "-U",
        "-w",
        pcap,
        "vlan 42",
      ]);
      await sleep(500); // the receivers have joined their groups
      const injector = new URL("./fixtures/inject_vlan_frames.ts", import.meta.url).pathname;
      const config = new URL("../../deno.json", import.meta.url).pathname;
      const inj = await t.run(n.gen, [
        Deno.execPath(),
        "run",
        "--config",
        config,
        ...DEV_RUN_FLAGS,
        injector,
        n.genIf,
        String(count),
      ], 120_000);
      assert.equal(inj.code, 0, inj.stderr);
      const results = await Promise.all(sinks.map((s) => s.result));
      await sleep(300);
      capture.kill("SIGTERM");
      await capture.status;
      const { stats } = await relay.stop();
      for (const [i, name] of ["untagged", "VID 100", "VID 200"].entries()) {
        assert.equal(results[i].unique, count, `${name}: every packet of its own VLAN`);
        assert.equal(results[i].foreign ?? 0, 0, `${name}: no packet of another VLAN`);
        assert.equal(results[i].duplicates, 0);
      }
      // The QinQ rule's output, tagged 42: every datagram, to its group, with a valid UDP checksum.
      const read = await t.run(n.sink, ["tcpdump", "-nn", "-e", "-vv", "-r", pcap]);
      const frames = read.stdout.split("\n").filter((l) => l.includes("vlan 42"));
      const datagrams = read.stdout.split("\n").filter((l) => l.includes("239.9.9.4.6004"));
      assert.equal(
        frames.length,
        count,
        `${frames.length} frames tagged 42 captured\n${read.stdout.slice(0, 600)}`,
      );
      assert.equal(datagrams.length, count);
      assert.ok(datagrams.every((l) => l.includes("udp sum ok")), "UDP checksums valid");
      assert.ok(stats);
      for (const r of stats.rules) assert.equal(r.counters.packets, count, `rule ${r.name}`);
      assert.equal(stats.totals.drop_no_match, 0);
    });
  },
);
