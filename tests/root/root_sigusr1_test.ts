/**
 * SIGUSR1 opens no debugger (src/cli/sigusr1.ts). The Deno runtime answers SIGUSR1 by opening
 * its inspector on 127.0.0.1:9229; every process here runs in a test namespace, so a debugger
 * that does open is reachable from that namespace only, and only while the test runs.
 */
import assert from "node:assert/strict";
import { withTopology } from "../../src/tools/topology.ts";
import { selfCommand } from "../../src/runtime.ts";
import { rootTest } from "../helpers/netns.ts";
import { oneRuleYaml, sleep, startRelay } from "../helpers/relay.ts";

const INSPECTOR_PORT = 9229;
const SIGUSR1_BIT = 1n << 9n; // bit (signo - 1) of /proc/PID/status's masks

/** Output of a command (Deno asks --allow-all to read /proc/PID/ itself; cat and find need no more). */
function output(cmd: string, args: string[]): string {
  return new TextDecoder().decode(
    new Deno.Command(cmd, { args, stderr: "null" }).outputSync().stdout,
  );
}

/** The TCP ports a process listens on: its socket inodes matched against its namespace's tables. */
function listeningPorts(pid: number): Set<number> {
  const byInode = new Map<string, number>();
  for (const table of ["tcp", "tcp6"]) {
    for (const line of output("cat", [`/proc/${pid}/net/${table}`]).split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length > 9 && f[3] === "0A") byInode.set(f[9], parseInt(f[1].split(":")[1], 16));
    }
  }
  const ports = new Set<number>();
  const links = output("find", [`/proc/${pid}/fd`, "-lname", "socket:*", "-printf", "%l\n"]);
  for (const link of links.split("\n")) {
    const inode = /^socket:\[(\d+)\]$/.exec(link)?.[1];
    if (inode && byInode.has(inode)) ports.add(byInode.get(inode)!);
  }
  return ports;
}

/** SIGUSR1's disposition as the kernel holds it: caught by a handler, ignored, or neither. */
function sigusr1Disposition(pid: number): "caught" | "ignored" | "default" {
  const status = output("cat", [`/proc/${pid}/status`]);
  const mask = (name: string) =>
    BigInt("0x" + new RegExp(`^${name}:\\s*([0-9a-f]+)`, "m").exec(status)![1]);
  if (mask("SigCgt") & SIGUSR1_BIT) return "caught";
  return mask("SigIgn") & SIGUSR1_BIT ? "ignored" : "default";
}

/** Polls until `ok` holds or `ms` pass; whether it held. */
async function within(ms: number, ok: () => boolean): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (ok()) return true;
    await sleep(20);
  }
  return ok();
}

rootTest(
  "root: SIGUSR1 opens the runtime's debugger in a plain Deno process, and none in mcr run, which keeps running",
  async () => {
    await withTopology(async (t) => {
      const n = await t.chain();
      // The hazard, and that the check sees it: a plain Deno program (no mcr) in the namespace.
      const plain = t.spawn(n.relay, [Deno.execPath(), "eval", "setTimeout(() => {}, 30000)"]);
      try {
        assert.ok(
          await within(3000, () => sigusr1Disposition(plain.pid) === "caught"),
          "the runtime installs its SIGUSR1 handler",
        );
        plain.kill("SIGUSR1");
        assert.ok(
          await within(3000, () => listeningPorts(plain.pid).has(INSPECTOR_PORT)),
          `a plain Deno process listens on ${INSPECTOR_PORT} after SIGUSR1`,
        );
      } finally {
        plain.kill("SIGKILL");
        await plain.status;
      }

      const relay = await startRelay(t, n.relay, oneRuleYaml(n.relayIn, n.relayOut));
      const pid = relay.process.pid;
      await sleep(1000); // well past the runtime's 500 ms grace
      assert.equal(sigusr1Disposition(pid), "ignored");
      for (let i = 0; i < 3; i++) relay.process.kill("SIGUSR1");
      const opened = await within(1500, () => listeningPorts(pid).has(INSPECTOR_PORT));
      const ports = [...listeningPorts(pid)];
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
      try {
        const pid = sink.pid;
        assert.ok(
          await within(5000, () => sigusr1Disposition(pid) !== "default"),
          "mcr sink takes SIGUSR1",
        );
        const early = sigusr1Disposition(pid);
        sink.kill("SIGUSR1");
        await sleep(1200);
        assert.equal(sigusr1Disposition(pid), "ignored", "the runtime's handler is replaced");
        sink.kill("SIGUSR1");
        await sleep(500);
        assert.equal(listeningPorts(pid).has(INSPECTOR_PORT), false);
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
