/**
 * Malformed frames on the wire into a running relay: each is dropped and
 * counted under its reason, and the valid traffic between them keeps flowing.
 */
import assert from "node:assert/strict";
import { withTopology } from "../../src/tools/topology.ts";
import { DEV_RUN_FLAGS } from "../../src/runtime.ts";
import { rootTest } from "../helpers/netns.ts";
import { sleep, startRelay, startSink } from "../helpers/relay.ts";

rootTest(
  "root: malformed frames injected on the wire are counted under their reason; valid traffic flows",
  async () => {
    await withTopology(async (t) => {
      const n = await t.chain();
      const relay = await startRelay(
        t,
        n.relay,
        `rules:\n  - name: w\n    input: { interface: ${n.relayIn}, group: 239.1.1.1, port: 5001 }\n` +
          `    outputs:\n      - { interface: ${n.relayOut}, group: 239.9.9.9, port: 5099 }\n`,
      );
      const count = 1000;
      const sink = startSink(t, n.sink, {
        group: "239.9.9.9",
        port: 5099,
        iface: n.sinkIf,
        runId: 71,
        idleMs: 2000,
      });
      await sleep(300);
      const injector = new URL("./fixtures/inject_frames.ts", import.meta.url).pathname;
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
        "71",
      ], 120_000);
      assert.equal(inj.code, 0, inj.stderr);
      const sent = JSON.parse(inj.stdout.trim());
      const got = await sink.result;
      const { stats } = await relay.stop();
      assert.equal(sent.valid, count);
      assert.equal(
        got.unique,
        count,
        "every valid datagram between the malformed ones was relayed",
      );
      assert.equal(got.corrupted, 0);
      assert.equal(got.foreign ?? 0, 0, "no malformed frame came out");
      assert.ok(stats);
      const t0 = stats.totals;
      assert.equal(t0.matched, count);
      assert.equal(t0.drop_bad_header, 2 * count, "bad header checksum and UDP length lie");
      assert.equal(t0.drop_truncated, count, "total length larger than the frame");
      assert.equal(t0.drop_fragment, count, "first fragments on a rule that does not allow them");
      assert.equal(
        t0.rx_packets,
        t0.matched + t0.drop_bad_header + t0.drop_truncated + t0.drop_fragment,
      );
    });
  },
);
