/**
 * mcr under systemd, as systemd sees it through $NOTIFY_SOCKET (a socat
 * receiving the datagrams stands in for systemd).
 */
import assert from "node:assert/strict";
import { withTopology } from "../../src/tools/topology.ts";
import { rootTest } from "../helpers/netns.ts";
import { oneRuleYaml, sleep, startRelay } from "../helpers/relay.ts";

rootTest(
  "root: under systemd: READY=1 once the rules are in force, WATCHDOG=1 while the workers turn, RELOADING=1 then READY=1 on SIGHUP, STOPPING=1",
  async () => {
    await withTopology(async (t) => {
      const n = await t.chain();
      const dir = Deno.makeTempDirSync();
      const socket = `${dir}/notify`;
      const systemd = new Deno.Command("socat", {
        args: ["-u", `UNIX-RECV:${socket}`, "-"],
        stdout: "piped",
        stderr: "null",
      }).spawn();
      let got = "";
      const reading = (async () => {
        for await (const chunk of systemd.stdout.pipeThrough(new TextDecoderStream())) got += chunk;
      })();
      await sleep(300);
      const relay = await startRelay(t, n.relay, oneRuleYaml(n.relayIn, n.relayOut), [], {
        NOTIFY_SOCKET: socket,
        WATCHDOG_USEC: "400000",
      });
      await sleep(1200);
      const afterStart = got;
      relay.process.kill("SIGHUP");
      await sleep(800);
      const afterReload = got;
      await relay.stop();
      await sleep(200);
      systemd.kill("SIGTERM");
      await systemd.status;
      await reading.catch(() => {});
      Deno.removeSync(dir, { recursive: true });
      assert.match(afterStart, /^READY=1\nSTATUS=1 rules in force/, afterStart);
      const pings = afterStart.split("WATCHDOG=1").length - 1;
      assert.ok(
        pings >= 3,
        `${pings} watchdog pings in 1.2 s at WATCHDOG_USEC=400000 (every 200 ms)`,
      );
      const reload = afterReload.slice(afterStart.length);
      assert.match(reload, /RELOADING=1\nMONOTONIC_USEC=\d+/);
      assert.ok(
        reload.indexOf("READY=1") > reload.indexOf("RELOADING=1"),
        "READY=1 again once the reload is done",
      );
      assert.ok(got.endsWith("STOPPING=1"), `the last word is STOPPING=1: ...${got.slice(-40)}`);
    });
  },
);

rootTest(
  "root: mcr run writes nothing but JSON lines to stderr, counters (SIGUSR2, stop) included",
  async () => {
    await withTopology(async (t) => {
      const n = await t.chain();
      const relay = await startRelay(t, n.relay, oneRuleYaml(n.relayIn, n.relayOut));
      relay.process.kill("SIGUSR2");
      await sleep(300);
      await relay.stop();
      assert.ok(relay.log.length > 3);
      for (const line of relay.log) {
        const record = JSON.parse(line); // throws on anything that is not one JSON object
        assert.equal(typeof record.msg, "string");
      }
      const counters = relay.log.map((l) => JSON.parse(l)).filter((r) => r.msg === "counters");
      assert.equal(counters.length, 2, "SIGUSR2 and the stop each log the counters once");
      assert.equal(counters[1].rules[0].name, "a");
    });
  },
);
