/**
 * SIGUSR1 opens no debugger (src/cli/sigusr1.ts). The Deno runtime answers SIGUSR1 by opening
 * its inspector on 127.0.0.1:9229; every process here runs in a test namespace, so a debugger
 * that does open is reachable from that namespace only, and only while the test runs.
 */
import assert from "node:assert/strict";
import { type Topology, withTopology } from "../../src/tools/topology.ts";
import { selfCommand } from "../../src/runtime.ts";
import { rootTest } from "../helpers/netns.ts";
import { baseStream, oneRuleYaml, sleep, startRelay } from "../helpers/relay.ts";
import { waitFor } from "../helpers/routing.ts";

const INSPECTOR_PORT = 9229;
const SIGUSR1_BIT = 1n << 9n; // bit (signo - 1) of /proc/PID/status's masks

/** Reads /proc/PID/... of a process in a test namespace (Deno itself asks --allow-all for those). */
type ProcReader = (argv: string[]) => Promise<string>;
const procReader = (t: Topology, ns: string): ProcReader => async (argv) =>
  (await t.run(ns, argv)).stdout;

/** The TCP ports a process listens on: its socket inodes matched against its namespace's tables. */
async function listeningPorts(read: ProcReader, pid: number): Promise<Set<number>> {
  const byInode = new Map<string, number>();
  for (const table of ["tcp", "tcp6"]) {
    for (const line of (await read(["cat", `/proc/${pid}/net/${table}`])).split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length > 9 && f[3] === "0A") byInode.set(f[9], parseInt(f[1].split(":")[1], 16));
    }
  }
  const ports = new Set<number>();
  const links = await read(["find", `/proc/${pid}/fd`, "-lname", "socket:*", "-printf", "%l\n"]);
  for (const link of links.split("\n")) {
    const inode = /^socket:\[(\d+)\]$/.exec(link)?.[1];
    if (inode && byInode.has(inode)) ports.add(byInode.get(inode)!);
  }
  return ports;
}

/** SIGUSR1's disposition as the kernel holds it: caught by a handler, ignored, or neither. */
async function sigusr1Disposition(
  read: ProcReader,
  pid: number,
): Promise<"caught" | "ignored" | "default"> {
  const status = await read(["cat", `/proc/${pid}/status`]);
  const mask = (name: string) =>
    BigInt("0x" + new RegExp(`^${name}:\\s*([0-9a-f]+)`, "m").exec(status)![1]);
  if (mask("SigCgt") & SIGUSR1_BIT) return "caught";
  return mask("SigIgn") & SIGUSR1_BIT ? "ignored" : "default";
}

/** Whether the inspector's port opens in the process within `ms`. */
function inspectorOpens(read: ProcReader, pid: number, ms: number): Promise<boolean> {
  return waitFor(
    `port ${INSPECTOR_PORT}`,
    ms,
    async () => (await listeningPorts(read, pid)).has(INSPECTOR_PORT),
  ).then(() => true, () => false);
}

rootTest(
  "root: SIGUSR1 opens the runtime's debugger in a plain Deno process, and none in mcr run, which keeps running",
  async () => {
    await withTopology(async (t) => {
      const n = await t.chain();
      const read = procReader(t, n.relay);
      // The hazard, and that the check sees it: a plain Deno program (no mcr) in the namespace.
      const plain = t.spawn(n.relay, [Deno.execPath(), "eval", "setTimeout(() => {}, 30000)"]);
      try {
        await waitFor(
          "the runtime installs its SIGUSR1 handler",
          3000,
          async () => (await sigusr1Disposition(read, plain.pid)) === "caught",
        );
        plain.kill("SIGUSR1");
        assert.ok(
          await inspectorOpens(read, plain.pid, 3000),
          `a plain Deno process listens on ${INSPECTOR_PORT} after SIGUSR1`,
        );
      } finally {
        plain.kill("SIGKILL");
        await plain.status;
      }

      const relay = await startRelay(t, n.relay, oneRuleYaml(n.relayIn, n.relayOut));
      const pid = relay.process.pid;
      await sleep(1000); // well past the runtime's 500 ms grace
      assert.equal(await sigusr1Disposition(read, pid), "ignored");
      for (let i = 0; i < 3; i++) relay.process.kill("SIGUSR1");
      const opened = await inspectorOpens(read, pid, 1500);
      const ports = [...await listeningPorts(read, pid)];
      const { code } = await relay.stop();
      assert.equal(opened, false, `mcr run listens on ${ports.join(", ")}`);
      assert.equal(code, 0, "SIGUSR1 ended nothing: the relay stops cleanly on SIGTERM after it");
      assert.ok(!relay.log.some((l) => l.includes("Debugger")), relay.log.join("\n"));
    });
  },
);

rootTest(
  "root: SIGUSR1 as soon as an mcr command runs, and again after the runtime's grace, ends nothing and opens no debugger",
  async () => {
    await withTopology(async (t) => {
      const n = await t.chain();
      const sink = t.spawn(
        n.sink,
        selfCommand(["sink", "--group", "239.1.1.1", "--port", "5000", "--max-seconds", "3"]),
      );
      const read = procReader(t, n.sink);
      try {
        const pid = sink.pid;
        await waitFor(
          "mcr sink takes SIGUSR1",
          5000,
          async () => (await sigusr1Disposition(read, pid)) !== "default",
        );
        const early = await sigusr1Disposition(read, pid);
        sink.kill("SIGUSR1");
        await sleep(1200);
        assert.equal(
          await sigusr1Disposition(read, pid),
          "ignored",
          "the runtime's handler is replaced",
        );
        sink.kill("SIGUSR1");
        await sleep(500);
        assert.equal((await listeningPorts(read, pid)).has(INSPECTOR_PORT), false);
        const status = await sink.status;
        const err = await new Response(sink.stderr).text();
        assert.equal(
          status.code,
          0,
          `mcr sink ran to its end (first signal while ${early}): ${err}`,
        );
        assert.ok(!err.includes("Debugger"), err);
      } finally {
        try {
          sink.kill("SIGKILL");
        } catch { /* ended */ }
      }
    });
  },
);

rootTest(
  "root: a storm of SIGUSR1 racing SIGHUP reloads and SIGUSR2 counters under traffic: every packet forwarded once, no debugger, a clean stop",
  async () => {
    await withTopology(async (t) => {
      const n = await t.chain();
      const read = procReader(t, n.relay);
      const relay = await startRelay(t, n.relay, oneRuleYaml(n.relayIn, n.relayOut));
      const pid = relay.process.pid;
      await sleep(800);
      const { sink, gen } = await baseStream(t, n, {
        count: 6000,
        rate: 3000,
        runId: 77,
        idleMs: 1500,
      });
      // 2 s of signals while the stream runs: SIGUSR1 every 2 ms, a reload and a counters
      // print every 100 ms among them.
      for (let i = 0; i < 1000; i++) {
        relay.process.kill("SIGUSR1");
        if (i % 50 === 0) relay.process.kill("SIGHUP");
        if (i % 50 === 25) relay.process.kill("SIGUSR2");
        await sleep(2);
      }
      await gen;
      const got = await sink.result;
      const opened = await inspectorOpens(read, pid, 500);
      const { code } = await relay.stop();
      assert.equal(got.unique, 6000, "every packet forwarded");
      assert.equal(got.duplicates, 0);
      assert.equal(opened, false, `no debugger on ${INSPECTOR_PORT}`);
      assert.equal(code, 0, "the relay stops cleanly after the storm");
      const records = relay.log.map((l) => JSON.parse(l));
      assert.ok(records.some((r) => r.msg === "configuration reloaded"), "reloads were done");
      assert.ok(records.filter((r) => r.msg === "counters").length >= 2, "counters were printed");
      assert.ok(!relay.log.some((l) => l.includes("Debugger")));
    });
  },
);
