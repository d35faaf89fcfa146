/**
 * worker_priority: the worker threads run SCHED_FIFO at the priority the
 * configuration names and every other thread of the relay keeps the ordinary
 * policy; a change over the API is in force when acknowledged; a relay
 * without CAP_SYS_NICE refuses it, at start and over the API, with nothing
 * changed; changes racing reloads leave the threads as the configuration in
 * force says.
 */
import assert from "node:assert/strict";
import { type ChainNames, type Topology, withTopology } from "../../src/tools/topology.ts";
import { rootTest } from "../helpers/netns.ts";
import { baseStream, oneRuleYaml, startRelay } from "../helpers/relay.ts";
import { apiGet, putConfig, waitFor } from "../helpers/routing.ts";
const SCHED_FIFO = 1;

/** A test on the chain topology, on a kernel that can run real-time threads (rt_sched). */
function priorityTest(name: string, body: (t: Topology, n: ChainNames) => Promise<void>): void {
  rootTest(name, () => withTopology(async (t) => await body(t, await t.chain())), {
    needs: ["rt_sched"],
  });
}

interface Sched {
  comm: string;
  policy: number;
  priority: number;
}

/**
 * Each thread's name, policy and real-time priority (/proc/PID/task/TID/stat fields 41 and 40;
 * read with a shell: Deno needs --allow-all for /proc/<pid>).
 */
async function threads(pid: number): Promise<Sched[]> {
  const script =
    `for t in /proc/${pid}/task/*; do printf '%s|%s\\n' "$(cat $t/comm)" "$(cat $t/stat)"; done`;
  const out = new TextDecoder().decode(
    (await new Deno.Command("sh", { args: ["-c", script], stdout: "piped" }).output()).stdout,
  );
  return out.trim().split("\n").map((line) => {
    const comm = line.slice(0, line.indexOf("|"));
    // The fields after "(comm)" start at field 3.
    const f = line.slice(line.lastIndexOf(")") + 2).split(" ");
    return { comm, priority: Number(f[40 - 3]), policy: Number(f[41 - 3]) };
  });
}

/** The workers' [policy, priority] pairs; throws if another thread is not under the ordinary policy. */
async function workers(pid: number): Promise<[number, number][]> {
  const all = await threads(pid);
  const others = all.filter((t) => !t.comm.startsWith("mcr-worker"));
  assert.ok(
    others.every((t) => t.policy === 0 && t.priority === 0),
    `the supervisor and helper threads keep the ordinary policy: ${JSON.stringify(others)}`,
  );
  return all.filter((t) => t.comm.startsWith("mcr-worker")).map((t) => [t.policy, t.priority]);
}

/** The relay forwards: `count` datagrams of a stream at 2,000 pps reach the receiver, each once. */
async function assertForwards(t: Topology, n: ChainNames, count: number, runId: number) {
  const { sink, gen } = await baseStream(t, n, { count, rate: 2000, runId, idleMs: 1500 });
  await gen;
  assert.equal((await sink.result).unique, count);
}

priorityTest(
  "root: worker_priority runs the worker threads SCHED_FIFO and only those; changed over the API it is in force when acknowledged; unset, the ordinary policy again",
  async (t, n) => {
    const relay = await startRelay(
      t,
      n.relay,
      `workers: 2\nworker_priority: 10\n${oneRuleYaml(n.relayIn, n.relayOut)}`,
    );
    const pid = relay.process.pid;
    try {
      assert.deepEqual(await workers(pid), [[SCHED_FIFO, 10], [SCHED_FIFO, 10]]);
      assert.equal(await putConfig(t, n.relay, (c) => c.worker_priority = 20), 200);
      assert.deepEqual(
        await workers(pid),
        [[SCHED_FIFO, 20], [SCHED_FIFO, 20]],
        "in force at the 200",
      );
      assert.equal(await putConfig(t, n.relay, (c) => delete c.worker_priority), 200);
      assert.deepEqual(await workers(pid), [[0, 0], [0, 0]], "unset: the ordinary policy again");

      // And the relay forwards, at a real-time priority too.
      assert.equal(await putConfig(t, n.relay, (c) => c.worker_priority = 10), 200);
      await assertForwards(t, n, 2000, 41);
    } finally {
      await relay.stop();
    }
  },
);

priorityTest(
  "root: without CAP_SYS_NICE worker_priority is refused: at start the relay does not run, over the API the change is not acknowledged and nothing changes",
  async (t, n) => {
    // Root without CAP_SYS_NICE (gone from the bounding set, so from every set after exec),
    // and no RLIMIT_RTPRIO to allow it either.
    const wrapper = [
      "prlimit",
      "--rtprio=0:0",
      "--",
      "setpriv",
      "--bounding-set=-sys_nice",
      "--inh-caps=-sys_nice",
      "--",
    ];
    const yaml = oneRuleYaml(n.relayIn, n.relayOut);
    await assert.rejects(
      startRelay(t, n.relay, `worker_priority: 10\n${yaml}`, [], {}, wrapper),
      /SCHED_FIFO needs CAP_SYS_NICE/,
      "a relay told to run its workers SCHED_FIFO, and unable to, does not start",
    );

    const relay = await startRelay(t, n.relay, yaml, [], {}, wrapper);
    const pid = relay.process.pid;
    try {
      const before = await apiGet(t, n.relay, "/api/v1/config");
      const code = await putConfig(t, n.relay, (c) => c.worker_priority = 10);
      assert.notEqual(code, 200, "not acknowledged");
      assert.ok(code >= 400, `refused: ${code}`);
      assert.deepEqual(
        await apiGet(t, n.relay, "/api/v1/config"),
        before,
        "the configuration in force is unchanged",
      );
      assert.deepEqual(await workers(pid), [[0, 0]], "and so is the worker's policy");
      // The relay still forwards.
      await assertForwards(t, n, 1000, 42);
    } finally {
      await relay.stop();
    }
  },
);

priorityTest(
  "root: worker_priority changes over the API racing SIGHUP reloads: each is answered, the threads come to what the configuration in force says, and the next change is in force at its 200",
  async (t, n) => {
    const relay = await startRelay(
      t,
      n.relay,
      `workers: 2\nworker_priority: 10\n${oneRuleYaml(n.relayIn, n.relayOut)}`,
    );
    const pid = relay.process.pid;
    try {
      const changes: Promise<number>[] = [];
      for (let i = 0; i < 6; i++) {
        changes.push(putConfig(t, n.relay, (c) => c.worker_priority = 11 + i));
        relay.process.kill("SIGHUP");
      }
      for (const status of await Promise.all(changes)) {
        assert.ok([200, 409].includes(status), `answered: ${status}`);
      }
      // The reloads queued behind the PUTs may still run: the threads must come to what the
      // configuration in force says, and stay there.
      await waitFor(
        "the workers' priority to match the configuration in force",
        10_000,
        async () => {
          const c = await apiGet<{ worker_priority?: number }>(t, n.relay, "/api/v1/config");
          const want = c.worker_priority === undefined ? [0, 0] : [SCHED_FIFO, c.worker_priority];
          const got = await workers(pid);
          return got.length === 2 && got.every(([p, r]) => p === want[0] && r === want[1]);
        },
      );
      assert.equal(await putConfig(t, n.relay, (c) => c.worker_priority = 33), 200);
      assert.deepEqual(await workers(pid), [[SCHED_FIFO, 33], [SCHED_FIFO, 33]], "at the 200");
      await assertForwards(t, n, 2000, 43);
    } finally {
      await relay.stop();
    }
  },
);
