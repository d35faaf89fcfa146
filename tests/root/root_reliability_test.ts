/**
 * Faults a relay must survive by itself: a worker that throws or hangs, and
 * interfaces that disappear, come back, or are absent at start. Also a
 * clean shutdown: exit 0, groups left, and a restart right after SIGKILL.
 */
import assert from "node:assert/strict";
import { type Topology, withTopology } from "../../src/tools/topology.ts";
import { rootTest } from "../helpers/netns.ts";
import { runGen, sleep, startRelay, startSink } from "../helpers/relay.ts";

const API = "http://127.0.0.1:8787";

function rules(input: string, output: string, workers = 1): string {
  return `workers: ${workers}\nrules:\n` +
    `  - name: a\n    input: { interface: ${input}, group: 239.1.1.1, port: 5001 }\n    outputs:\n      - { interface: ${output}, group: 239.9.9.1, port: 6001 }\n` +
    `  - name: b\n    input: { interface: ${input}, group: 239.1.1.2, port: 5002 }\n    outputs:\n      - { interface: ${output}, group: 239.9.9.2, port: 6002 }\n`;
}

interface Restart {
  cause: string;
  last_heartbeat_at_ms: number;
  detected_at_ms: number;
  forwarding_at_ms: number;
  replacement?: string;
}

/** Worker 0's last restart, once the relay records its replacement forwarding (liveness bound only). */
async function waitForRestart(t: Topology, ns: string, ms: number): Promise<Restart> {
  const until = Date.now() + ms;
  for (;;) {
    const workers = JSON.parse((await t.run(ns, ["curl", "-sf", `${API}/api/v1/workers`])).stdout);
    const r = workers.find((w: { id: number }) => w.id === 0)?.last_restart;
    if (r && r.forwarding_at_ms !== null) return r;
    if (Date.now() > until) {
      throw new Error(`no restart recorded in ${ms} ms: ${JSON.stringify(workers)}`);
    }
    await sleep(100);
  }
}

for (const kind of ["throw", "hang"] as const) {
  rootTest(
    `root: a worker that ${
      kind === "throw" ? "throws" : "stops making progress"
    } is replaced; what its flows lost fits the outage the relay timed; the other keeps forwarding; counters survive`,
    async () => {
      await withTopology(async (t) => {
        const n = await t.chain();
        const relay = await startRelay(t, n.relay, rules(n.relayIn, n.relayOut, 2), [], {
          MCR_FAULT_INJECTION: "1",
        });
        const rate = 2000;
        const sinks = [
          startSink(t, n.sink, {
            group: "239.9.9.1",
            port: 6001,
            iface: n.sinkIf,
            runId: 61,
            idleMs: 2500,
          }),
          startSink(t, n.sink, {
            group: "239.9.9.2",
            port: 6002,
            iface: n.sinkIf,
            runId: 62,
            idleMs: 2500,
          }),
        ];
        await sleep(300);
        const gens = [
          runGen(t, n.gen, {
            group: "239.1.1.1",
            port: 5001,
            count: 6 * rate,
            rate,
            iface: n.genIf,
            runId: 61,
          }),
          runGen(t, n.gen, {
            group: "239.1.1.2",
            port: 5002,
            count: 6 * rate,
            rate,
            iface: n.genIf,
            runId: 62,
          }),
        ];
        await sleep(2000);
        const before = JSON.parse(
          (await t.run(n.relay, ["curl", "-sf", `${API}/api/v1/stats`])).stdout,
        );
        const fault = await t.run(n.relay, [
          "curl",
          "-sf",
          "-X",
          "POST",
          "-H",
          "content-type: application/json",
          "-d",
          JSON.stringify({ worker: 0, kind }),
          `${API}/api/v1/debug/fault`,
        ]);
        assert.equal(fault.code, 0, fault.stderr);
        // Wait until the replacement has the plan in force (the relay's own record of the
        // restart); how long that takes is a benchmark's figure (bench/recovery_bench.ts), not
        // a bound here: a loaded machine may take longer, and the loss is held against it.
        const restart = await waitForRestart(t, n.relay, 30_000);
        let after = JSON.parse(
          (await t.run(n.relay, ["curl", "-sf", `${API}/api/v1/stats`])).stdout,
        );
        for (let i = 0; i < 100; i++) {
          const w = after.workers.find((x: { id: number }) => x.id === 0);
          if (w.counters.loop_iterations > 0) break;
          await sleep(100);
          after = JSON.parse((await t.run(n.relay, ["curl", "-sf", `${API}/api/v1/stats`])).stdout);
        }
        await Promise.all(gens);
        const got = await Promise.all(sinks.map((s) => s.result));
        const { stats } = await relay.stop();
        const w0 = after.workers.find((w: { id: number }) => w.id === 0);
        assert.equal(w0.restarts, 1, "worker 0 was restarted");
        assert.equal(w0.alive, true);
        assert.ok(w0.counters.loop_iterations > 0, "and is making progress again");
        assert.equal(restart.cause, kind === "throw" ? "threw" : "stuck");
        assert.equal(restart.replacement, "standby", "its standby took over (no thread to start)");
        assert.ok(
          restart.last_heartbeat_at_ms <= restart.detected_at_ms &&
            restart.detected_at_ms <= restart.forwarding_at_ms,
          JSON.stringify(restart),
        );
        // The outage as the relay timed it: from the faulty worker's last loop turn to the
        // replacement's plan in force. A flow hashed to the faulty worker can lose at most
        // what arrived in that time (plus what sat in its ring at its last turn).
        const outageS = (restart.forwarding_at_ms - restart.last_heartbeat_at_ms) / 1000;
        assert.ok(
          after.totals.tx_sent >= before.totals.tx_sent,
          "totals never go backwards across a restart",
        );
        for (const g of got) {
          assert.equal(g.duplicates, 0);
          assert.ok(g.max_seq >= 6 * rate - 10, "packets kept flowing to the end of the run");
          const lost = 6 * rate - g.unique;
          assert.ok(
            lost <= Math.ceil(rate * outageS) + 50,
            `lost ${lost} packets; the relay timed an outage of ${outageS.toFixed(3)} s`,
          );
        }
        assert.ok(stats);
        assert.ok(stats.totals.tx_sent >= got[0].unique + got[1].unique);
      });
    },
  );
}

rootTest(
  "root: an output interface deleted and re-created is followed: forwarding resumes without a restart",
  async () => {
    await withTopology(async (t) => {
      const n = await t.chain();
      const relay = await startRelay(t, n.relay, rules(n.relayIn, n.relayOut));
      const rate = 2000;
      const sink1 = startSink(t, n.sink, {
        group: "239.9.9.1",
        port: 6001,
        iface: n.sinkIf,
        runId: 63,
        idleMs: 1200,
      });
      await sleep(300);
      const gen = runGen(t, n.gen, {
        group: "239.1.1.1",
        port: 5001,
        count: 8 * rate,
        rate,
        iface: n.genIf,
        runId: 63,
      });
      await sleep(1500);
      // The link goes away (the sink's end with it) and comes back as a new interface.
      await t.run(n.relay, ["ip", "link", "del", n.relayOut]);
      const first = await sink1.result;
      await t.addVeth(n.relay, n.relayOut, n.sink, n.sinkIf);
      await t.addAddress(n.relay, n.relayOut, "10.0.1.1/24");
      await t.addAddress(n.sink, n.sinkIf, "10.0.1.2/24");
      await t.routeMulticast(n.sink, n.sinkIf);
      const sink2 = startSink(t, n.sink, {
        group: "239.9.9.1",
        port: 6001,
        iface: n.sinkIf,
        runId: 63,
        idleMs: 2000,
      });
      await gen;
      const second = await sink2.result;
      const ifs = JSON.parse(
        (await t.run(n.relay, ["curl", "-sf", `${API}/api/v1/interfaces`])).stdout,
      );
      await relay.stop();
      assert.ok(first.unique > 0, "forwarding before the deletion");
      assert.ok(second.unique > 0, "forwarding resumed on the re-created interface");
      assert.ok(second.max_seq >= 8 * rate - 10, "until the end of the run");
      const out = ifs.find((i: { name: string }) => i.name === n.relayOut);
      assert.ok(out.events >= 1, "the change was counted");
      assert.equal(out.present, true);
    });
  },
);

rootTest(
  "root: a rule whose input interface is absent at start waits, and forwards once it appears",
  async () => {
    await withTopology(async (t) => {
      const n = await t.chain();
      await t.run(n.relay, ["ip", "link", "set", n.relayIn, "name", "later0"]);
      const relay = await startRelay(t, n.relay, rules(n.relayIn, n.relayOut));
      const waiting = JSON.parse((await t.run(n.relay, ["curl", "-s", `${API}/health`])).stdout);
      assert.equal(waiting.status, "critical");
      assert.ok(
        waiting.reasons.some((r: string) => /waiting for its interfaces|absent/.test(r)),
        JSON.stringify(waiting),
      );
      await t.run(n.relay, ["ip", "link", "set", "later0", "down"]);
      await t.run(n.relay, ["ip", "link", "set", "later0", "name", n.relayIn]);
      await t.run(n.relay, ["ip", "link", "set", n.relayIn, "up"]);
      await sleep(1500);
      const sink = startSink(t, n.sink, {
        group: "239.9.9.1",
        port: 6001,
        iface: n.sinkIf,
        runId: 64,
      });
      await sleep(300);
      await runGen(t, n.gen, {
        group: "239.1.1.1",
        port: 5001,
        count: 2000,
        rate: 2000,
        iface: n.genIf,
        runId: 64,
      });
      const got = await sink.result;
      await relay.stop();
      assert.equal(got.unique, 2000);
    });
  },
);

rootTest(
  "root: SIGTERM under load exits 0 with groups left; after SIGKILL a new relay starts cleanly",
  async () => {
    await withTopology(async (t) => {
      const n = await t.chain();
      const relay = await startRelay(t, n.relay, rules(n.relayIn, n.relayOut));
      const joined = (await t.run(n.relay, ["ip", "maddr", "show", "dev", n.relayIn])).stdout;
      assert.match(joined, /239\.1\.1\.1/);
      const gen = runGen(t, n.gen, {
        group: "239.1.1.1",
        port: 5001,
        count: 60_000,
        rate: 20_000,
        iface: n.genIf,
      });
      await sleep(1000);
      const stopping = performance.now();
      const { code, stats } = await relay.stop();
      const stopMs = performance.now() - stopping;
      await gen;
      assert.equal(code, 0);
      // The bound the operator relies on (systemd's stop timeout), not a speed goal.
      assert.ok(stopMs < 2000, `stopped in ${stopMs.toFixed(0)} ms under load`);
      assert.ok(stats && stats.totals.rx_packets > 0);
      const left = (await t.run(n.relay, ["ip", "maddr", "show", "dev", n.relayIn])).stdout;
      assert.doesNotMatch(left, /239\.1\.1\.1/, "memberships left");
      const killed = await startRelay(t, n.relay, rules(n.relayIn, n.relayOut));
      killed.process.kill("SIGKILL");
      await killed.process.status;
      const again = await startRelay(t, n.relay, rules(n.relayIn, n.relayOut));
      const sink = startSink(t, n.sink, {
        group: "239.9.9.1",
        port: 6001,
        iface: n.sinkIf,
        runId: 65,
      });
      await sleep(300);
      await runGen(t, n.gen, {
        group: "239.1.1.1",
        port: 5001,
        count: 1000,
        rate: 2000,
        iface: n.genIf,
        runId: 65,
      });
      assert.equal((await sink.result).unique, 1000);
      assert.equal((await again.stop()).code, 0);
    });
  },
);

rootTest(
  "root: link down/up and an address change are followed: forwarding resumes, the new source address is used",
  async () => {
    await withTopology(async (t) => {
      const n = await t.chain();
      const relay = await startRelay(t, n.relay, rules(n.relayIn, n.relayOut));
      const rate = 2000;
      const sink = startSink(t, n.sink, {
        group: "239.9.9.1",
        port: 6001,
        iface: n.sinkIf,
        runId: 66,
        idleMs: 2500,
      });
      await sleep(300);
      const gen = runGen(t, n.gen, {
        group: "239.1.1.1",
        port: 5001,
        count: 7 * rate,
        rate,
        iface: n.genIf,
        runId: 66,
      });
      await sleep(1500);
      await t.run(n.relay, ["ip", "link", "set", n.relayIn, "down"]);
      await sleep(1000);
      await t.run(n.relay, ["ip", "link", "set", n.relayIn, "up"]);
      await sleep(1500);
      // New source address on the output: relayed packets must carry it.
      await t.run(n.relay, ["ip", "addr", "flush", "dev", n.relayOut]);
      await t.addAddress(n.relay, n.relayOut, "10.0.1.9/24");
      await sleep(1500);
      const capture = await t.run(n.sink, [
        "tcpdump",
        "-i",
        n.sinkIf,
        "-n",
        "-c",
        "3",
        "-l",
        "udp",
        "port",
        "6001",
      ], 10_000);
      await gen;
      const got = await sink.result;
      const ifs = JSON.parse(
        (await t.run(n.relay, ["curl", "-sf", "http://127.0.0.1:8787/api/v1/interfaces"])).stdout,
      );
      await relay.stop();
      assert.ok(
        got.max_seq >= 7 * rate - 10,
        "forwarding resumed after the link came back, to the end of the run",
      );
      assert.ok(
        got.unique >= 5 * rate,
        `delivered ${got.unique} of ${7 * rate} (the down second and its edges are lost)`,
      );
      assert.match(
        capture.stdout,
        /IP 10\.0\.1\.9\.\d+ > 239\.9\.9\.1\.6001/,
        capture.stdout + capture.stderr,
      );
      const out = ifs.find((i: { name: string }) => i.name === n.relayOut);
      assert.equal(out.ipv4, "10.0.1.9");
      assert.ok(out.events >= 1);
      const inp = ifs.find((i: { name: string }) => i.name === n.relayIn);
      assert.ok(inp.events >= 2, `link down and link up are both counted (${inp.events})`);
      assert.ok(
        relay.log.some((l) => l.includes("went down")) &&
          relay.log.some((l) => l.includes("went up")),
      );
    });
  },
);

rootTest(
  "root: an input interface deleted and re-created is followed: ring re-created, group re-joined, forwarding resumes",
  async () => {
    await withTopology(async (t) => {
      const n = await t.chain();
      const relay = await startRelay(t, n.relay, rules(n.relayIn, n.relayOut));
      // The receiver waits through the re-creation (several seconds without traffic).
      const sink = startSink(t, n.sink, {
        group: "239.9.9.1",
        port: 6001,
        iface: n.sinkIf,
        runId: 67,
        idleMs: 8000,
      });
      await sleep(300);
      await runGen(t, n.gen, {
        group: "239.1.1.1",
        port: 5001,
        count: 1000,
        rate: 2000,
        iface: n.genIf,
        runId: 67,
      });
      // The generator's link (and with it the relay's input) goes away and comes back as new interfaces.
      await t.run(n.relay, ["ip", "link", "del", n.relayIn]);
      await sleep(1500);
      await t.addVeth(n.gen, n.genIf, n.relay, n.relayIn);
      await t.addAddress(n.gen, n.genIf, "10.0.0.1/24");
      await t.addAddress(n.relay, n.relayIn, "10.0.0.2/24");
      await t.routeMulticast(n.gen, n.genIf);
      await t.setOffload(n.gen, n.genIf, { tx: false });
      await sleep(1500);
      const joined = (await t.run(n.relay, ["ip", "maddr", "show", "dev", n.relayIn])).stdout;
      await runGen(t, n.gen, {
        group: "239.1.1.1",
        port: 5001,
        count: 1000,
        rate: 2000,
        iface: n.genIf,
        runId: 67,
      });
      const got = await sink.result;
      const { stats } = await relay.stop();
      assert.match(joined, /239\.1\.1\.1/, "the group was joined again on the new interface");
      assert.equal(got.unique, 1000, "both runs share sequence numbers 0..999: every one arrived");
      assert.equal(got.duplicates, 1000, "and the second run arrived whole too");
      assert.ok(stats);
      assert.equal(stats.totals.tx_sent, 2000);
    });
  },
);
