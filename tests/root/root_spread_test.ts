/**
 * A spread rule (`spread: true`) with two workers: every worker reads the
 * rule's packets from a ring of its own and writes its share of the
 * outputs, so one stream's large fan-out is written by two cores. Each
 * output still gets every packet once, in order (one worker writes it).
 */
import assert from "node:assert/strict";
import { withTopology } from "../../src/tools/topology.ts";
import { rootTest } from "../helpers/netns.ts";
import { runGen, sleep, startRelay, startSink } from "../helpers/relay.ts";

const API = "http://127.0.0.1:8787";
const OUTPUTS = 6;
const COUNT = 4000;

rootTest(
  "root: a spread rule's outputs are written by both workers, a share each: every output gets every packet once and in order, and the rule is counted once",
  async () => {
    await withTopology(async (t) => {
      const n = await t.chain();
      const outputs = Array.from(
        { length: OUTPUTS },
        (_, i) => `      - { interface: ${n.relayOut}, group: 239.9.9.${i + 1}, port: 6001 }`,
      );
      const relay = await startRelay(
        t,
        n.relay,
        `workers: 2\nrules:\n  - name: big\n    spread: true\n` +
          `    input: { interface: ${n.relayIn}, group: 239.1.1.1, port: 5001 }\n` +
          `    outputs:\n${outputs.join("\n")}\n`,
      );
      // Outputs 0 and 1: written by worker 0 and by worker 1.
      const sinks = [1, 2].map((g) =>
        startSink(t, n.sink, { group: `239.9.9.${g}`, port: 6001, iface: n.sinkIf, runId: 80 })
      );
      await sleep(300);
      await runGen(t, n.gen, {
        group: "239.1.1.1",
        port: 5001,
        count: COUNT,
        rate: 2000,
        iface: n.genIf,
        runId: 80,
      });
      const got = await Promise.all(sinks.map((s) => s.result));
      const workers = JSON.parse(
        (await t.run(n.relay, ["curl", "-sf", `${API}/api/v1/workers`])).stdout,
      );
      const stats = JSON.parse(
        (await t.run(n.relay, ["curl", "-sf", `${API}/api/v1/stats`])).stdout,
      );
      await relay.stop();
      for (const g of got) {
        assert.equal(g.unique, COUNT, JSON.stringify(g));
        assert.equal(g.duplicates, 0);
        assert.equal(g.reordered, 0);
      }
      // Worker 0 writes outputs 0, 2, 4; worker 1 outputs 1, 3, 5: half the copies each.
      const sent = workers.map((w: { counters: { tx_sent: number } }) => w.counters.tx_sent);
      assert.deepEqual(sent, [COUNT * OUTPUTS / 2, COUNT * OUTPUTS / 2], JSON.stringify(sent));
      assert.equal(
        stats.rules[0].counters.packets,
        COUNT,
        "the rule is counted once, not per worker",
      );
      const perOutput = stats.rules[0].outputs.map((o: { counters: { packets: number } }) =>
        o.counters.packets
      );
      assert.deepEqual(perOutput, Array(OUTPUTS).fill(COUNT));
    });
  },
);
