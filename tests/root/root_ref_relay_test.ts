/**
 * The benchmarks' yardstick, the C reference relay (c/ref/ref_relay.c), in
 * each of its wake-up designs: woken per block (V3), per packet (V2), and
 * napping between batches (V2 with --nap-us). Every packet relayed once,
 * rewritten to the output group, and the design's own counters say it ran
 * as named: a benchmark that compares mcr with it is only as true as it.
 */
import assert from "node:assert/strict";
import { withTopology } from "../../src/tools/topology.ts";
import { rootTest } from "../helpers/netns.ts";
import { runGen, startSink } from "../helpers/relay.ts";

const REF_RELAY = new URL("../../build/ref_relay", import.meta.url).pathname;

interface RefStats {
  mode: string;
  rx: number;
  matched: number;
  tx: number;
  tx_ring_full: number;
  tx_errors: number;
  wakeups: number;
  naps: number;
}

const DESIGNS: { name: string; args: string[]; check: (s: RefStats) => void }[] = [
  {
    name: "woken per block (V3)",
    args: [],
    check: (s) => {
      assert.equal(s.mode, "v3");
      assert.ok(s.wakeups < s.rx / 4, `${s.wakeups} wake-ups for ${s.rx} packets`);
      assert.equal(s.naps, 0);
    },
  },
  {
    name: "woken per packet (V2)",
    args: ["--mode", "v2"],
    check: (s) => {
      assert.equal(s.mode, "v2");
      assert.equal(s.naps, 0);
    },
  },
  {
    name: "napping after every turn with packets (V2, --nap-us 50)",
    args: ["--mode", "v2", "--nap-us", "50", "--nap-enter", "1", "--nap-stay", "1"],
    check: (s) => {
      assert.equal(s.mode, "v2");
      assert.ok(s.naps > 0, "it napped");
      assert.ok(s.wakeups < s.rx / 2, `${s.wakeups} wake-ups for ${s.rx} packets`);
    },
  },
];

rootTest(
  "root: the C reference relay relays every packet once, rewritten, in each wake-up design, and its counters show the design",
  async () => {
    await withTopology(async (t) => {
      const n = await t.chain();
      for (const [i, d] of DESIGNS.entries()) {
        const stats = `/tmp/mcr-ref-test-${Deno.pid}-${i}.json`;
        const ref = t.spawn(n.relay, [
          REF_RELAY,
          ...["--in", n.relayIn, "--group", "239.1.1.1", "--port", "5001"],
          ...["--out", n.relayOut, "--out-group", "239.9.9.9", "--out-port", "5099"],
          ...["--ttl", "8", "--stats", stats],
          ...d.args,
        ], { stdout: "null" });
        try {
          // It says so on stderr once its rings are open and it has joined the group.
          const reader = ref.stderr.pipeThrough(new TextDecoderStream()).getReader();
          let said = "";
          while (!said.includes("ref_relay started")) {
            const { value, done } = await reader.read();
            if (done) throw new Error(`ref_relay (${d.name}) ended: ${said}`);
            said += value;
          }
          reader.releaseLock();
          const sink = startSink(t, n.sink, {
            group: "239.9.9.9",
            port: 5099,
            iface: n.sinkIf,
            runId: 60 + i,
            idleMs: 1500,
          });
          await new Promise((r) => setTimeout(r, 500));
          await runGen(t, n.gen, {
            group: "239.1.1.1",
            port: 5001,
            count: 3000,
            rate: 30_000,
            iface: n.genIf,
            ttl: 8,
            runId: 60 + i,
          });
          const got = await sink.result;
          assert.equal(got.unique, 3000, `${d.name}: every packet`);
          assert.equal(got.duplicates, 0, d.name);
          assert.equal(got.corrupted, 0, d.name);
          assert.equal(got.last_ttl, 8, d.name);
        } finally {
          ref.kill("SIGTERM");
          await ref.status;
        }
        const s: RefStats = JSON.parse(await Deno.readTextFile(stats));
        await Deno.remove(stats);
        assert.equal(s.rx, 3000, d.name);
        assert.equal(s.matched, 3000, d.name);
        assert.equal(s.tx, 3000, d.name);
        assert.equal(s.tx_ring_full + s.tx_errors, 0, d.name);
        d.check(s);
      }
    });
  },
);
