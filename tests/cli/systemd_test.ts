/**
 * sd_notify as systemd receives it: a datagram of KEY=VALUE lines on the
 * socket $NOTIFY_SOCKET names (a path or "@abstract"), READY/RELOADING/
 * STOPPING, and watchdog pings only while the data plane is healthy.
 */
import assert from "node:assert/strict";
import { notifySystemd } from "../../ffi/process.ts";
import { systemdNotifier } from "../../src/cli/systemd.ts";

const quiet = { warn: () => {} };

/** A socat receiving datagrams on `address` (UNIX-RECV:path or ABSTRACT-RECV:name); what it got so far. */
async function receiver(address: string) {
  const p = new Deno.Command("socat", {
    args: ["-u", address, "-"],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  let text = "";
  (async () => {
    for await (const chunk of p.stdout.pipeThrough(new TextDecoderStream())) text += chunk;
  })();
  await new Promise((r) => setTimeout(r, 300)); // bound before anything is sent
  return {
    text: () => text,
    async stop() {
      p.kill("SIGTERM");
      await p.status;
    },
  };
}

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
}

Deno.test("notifySystemd() sends one datagram to a path socket and to an abstract one; without NOTIFY_SOCKET it does nothing", async () => {
  const dir = Deno.makeTempDirSync();
  const before = Deno.env.get("NOTIFY_SOCKET");
  try {
    Deno.env.delete("NOTIFY_SOCKET");
    assert.equal(notifySystemd("READY=1"), false);
    const path = await receiver(`UNIX-RECV:${dir}/notify`);
    Deno.env.set("NOTIFY_SOCKET", `${dir}/notify`);
    assert.equal(notifySystemd("READY=1\nSTATUS=up"), true);
    await until(() => path.text().includes("STATUS=up"));
    await path.stop();
    assert.equal(path.text(), "READY=1\nSTATUS=up");
    const name = `mcr-test-${Deno.pid}`;
    const abstract = await receiver(`ABSTRACT-RECV:${name}`);
    Deno.env.set("NOTIFY_SOCKET", `@${name}`);
    assert.equal(notifySystemd("WATCHDOG=1"), true);
    await until(() => abstract.text().includes("WATCHDOG=1"));
    await abstract.stop();
    assert.equal(abstract.text(), "WATCHDOG=1");
    Deno.env.set("NOTIFY_SOCKET", "relative/path");
    assert.throws(() => notifySystemd("READY=1"), /EINVAL/);
  } finally {
    if (before === undefined) Deno.env.delete("NOTIFY_SOCKET");
    else Deno.env.set("NOTIFY_SOCKET", before);
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("the notifier says READY, RELOADING with MONOTONIC_USEC, STOPPING; pings the watchdog only while healthy", async () => {
  const sent: string[] = [];
  const env = new Map([["WATCHDOG_USEC", "100000"]]);
  const n = systemdNotifier(quiet, { get: (k) => env.get(k) }, (s) => (sent.push(s), true));
  n.ready("3 rules in force");
  n.reloading();
  n.stopping();
  assert.equal(sent[0], "READY=1\nSTATUS=3 rules in force");
  assert.match(sent[1], /^RELOADING=1\nMONOTONIC_USEC=\d+$/);
  assert.equal(sent[2], "STOPPING=1");
  let healthy = true;
  const stop = n.watchdog(() => healthy);
  await new Promise((r) => setTimeout(r, 230)); // every 50 ms (half of 100 ms)
  const pings = sent.filter((s) => s === "WATCHDOG=1").length;
  assert.ok(pings >= 2, `${pings} pings while healthy`);
  healthy = false;
  const at = sent.length;
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(sent.length, at, "no ping while a worker is stuck: systemd will restart the relay");
  stop();
});

Deno.test("no watchdog pings unless systemd asked for them, for this process", () => {
  const sent: string[] = [];
  for (
    const env of [
      new Map<string, string>(),
      new Map([["WATCHDOG_USEC", "100000"], ["WATCHDOG_PID", "1"]]),
    ]
  ) {
    const stop = systemdNotifier(quiet, { get: (k) => env.get(k) }, (s) => (sent.push(s), true))
      .watchdog(() => true);
    stop();
  }
  assert.deepEqual(sent, []);
});
