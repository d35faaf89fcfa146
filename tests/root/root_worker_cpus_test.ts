/**
 * worker_cpus: each worker's thread runs alone on the CPU the configuration
 * names, the rest of the process keeps its CPUs, a change over the API is in
 * force when it is acknowledged, and a CPU that does not exist is refused
 * with nothing changed.
 */
import assert from "node:assert/strict";
import { withTopology } from "../../src/tools/topology.ts";
import { rootTest } from "../helpers/netns.ts";
import { baseStream, oneRuleYaml, startRelay } from "../helpers/relay.ts";
import { apiGet, putConfig } from "../helpers/routing.ts";

/** Cpus_allowed_list of a process's threads, worker threads apart from the others (read with a shell: Deno needs --allow-all for /proc/<pid>). */
async function affinity(pid: number): Promise<{ workers: string[]; others: string[] }> {
  const script =
    `for t in /proc/${pid}/task/*; do printf '%s|%s\\n' "$(cat $t/comm)" "$(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' $t/status)"; done`;
  const out = new TextDecoder().decode(
    (await new Deno.Command("sh", { args: ["-c", script], stdout: "piped" }).output()).stdout,
  );
  const workers: string[] = [];
  const others: string[] = [];
  for (const line of out.trim().split("\n")) {
    const [comm, allowed] = line.split("|");
    // Worker threads name themselves mcr-worker-N (their standbys mcr-standby-N: not pinned).
    (comm.startsWith("mcr-worker") ? workers : others).push(allowed);
  }
  return { workers: workers.sort(), others };
}

rootTest(
  "root: worker_cpus pins each worker thread to its CPU and only those; changed over the API it is in force when acknowledged; an absent CPU is refused",
  async () => {
    await withTopology(async (t) => {
      const n = await t.chain();
      const everything = (await affinity(Deno.pid)).others[0]; // this test's own CPUs, e.g. "0-1"
      const relay = await startRelay(
        t,
        n.relay,
        `workers: 2\nworker_cpus: [1]\n${oneRuleYaml(n.relayIn, n.relayOut)}`,
      );
      const pid = relay.process.pid;
      const put = (mutate: (c: Record<string, unknown>) => void) => putConfig(t, n.relay, mutate);
      try {
        let a = await affinity(pid);
        assert.deepEqual(
          a.workers,
          ["1", "1"],
          "both workers on CPU 1 (worker i on worker_cpus[i mod 1])",
        );
        assert.ok(
          a.others.every((x) => x === everything),
          `the supervisor and helper threads keep every CPU: ${a.others}`,
        );

        assert.equal(await put((c) => c.worker_cpus = [0, 1]), 200);
        a = await affinity(pid);
        assert.deepEqual(
          a.workers,
          ["0", "1"],
          "worker 0 on CPU 0, worker 1 on CPU 1, as soon as the PUT is acknowledged",
        );

        // A CPU that does not exist: refused, and nothing changed.
        const refused = await put((c) => c.worker_cpus = [4000]);
        assert.notEqual(refused, 200, "an absent CPU is not acknowledged");
        const after = await apiGet<Record<string, unknown>>(t, n.relay, "/api/v1/config");
        assert.deepEqual(
          after.worker_cpus,
          [0, 1],
          "the configuration in force is the previous one",
        );
        assert.deepEqual((await affinity(pid)).workers, ["0", "1"], "and so are the threads' CPUs");

        assert.equal(await put((c) => delete c.worker_cpus), 200);
        assert.deepEqual(
          (await affinity(pid)).workers,
          [everything, everything],
          "unset: the workers may run on every CPU again",
        );

        // And the relay still forwards.
        const { sink, gen } = await baseStream(t, n, {
          count: 2000,
          rate: 2000,
          runId: 31,
          idleMs: 1500,
        });
        await gen;
        assert.equal((await sink.result).unique, 2000);
      } finally {
        await relay.stop();
      }
    });
  },
);
