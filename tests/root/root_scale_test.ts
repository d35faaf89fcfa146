/**
 * The control plane at 10,000 rules: 1,000 single-rule changes from four
 * clients race SIGHUP reloads and a flapping input interface; afterwards
 * the file, the running configuration and the data plane agree, and every
 * acknowledged change is in force. A bulk add of 5,000 rules is one change,
 * all or nothing, its error naming the first bad rule.
 */
import assert from "node:assert/strict";
import { parseConfigText } from "../../src/config/load.ts";
import { selfCommand } from "../../src/runtime.ts";
import type { Config } from "../../src/config/schema.ts";
import type { Resources, StatsSnapshot } from "../../src/supervisor/control.ts";
import { withTopology } from "../../src/tools/topology.ts";
import { numberedRule, numberedRulesYaml } from "../../src/tools/many_rules.ts";
import { rootTest } from "../helpers/netns.ts";
import { runGen, sleep, startRelay, startSink } from "../helpers/relay.ts";
import { apiGet } from "../helpers/routing.ts";

const API = "http://127.0.0.1:8787";
const BASE = 10_000;
const CLIENTS = 4;
/** Rules each client adds; each is then removed (even k) or replaced (odd k): 2 changes a rule. */
const PER_CLIENT = 125;

/** curl arguments for one request of a sequence (`--next` separates them; one process, one connection). */
function request(method: string, path: string, bodyFile?: string): string[] {
  return [
    "-s",
    "-o",
    "/dev/null",
    "-w",
    `${method} ${path} %{http_code}\\n`,
    "-X",
    method,
    ...(bodyFile ? ["-H", "content-type: application/json", "--data-binary", `@${bodyFile}`] : []),
    `${API}${path}`,
  ];
}

rootTest(
  "scale: at 10,000 rules, 1,000 single-rule changes from 4 clients racing SIGHUPs and an input flap leave file, running config and data plane identical, every acknowledged change in force",
  async () => {
    await withTopology(async (t) => {
      const n = await t.chain();
      const dir = Deno.makeTempDirSync({ prefix: "mcr-scale-" });
      try {
        const relay = await startRelay(t, n.relay, numberedRulesYaml(BASE, n.relayIn, n.relayOut));
        // Each client: add c{k}, then remove it (even k) or replace it with output port 7000 (odd k).
        const clients = Array.from({ length: CLIENTS }, (_, j) => {
          const args: string[] = [];
          for (let m = 0; m < PER_CLIENT; m++) {
            const k = j + m * CLIENTS;
            const name = `c${k}`;
            const add = `${dir}/add${k}.json`;
            Deno.writeTextFileSync(
              add,
              JSON.stringify(numberedRule(20_000 + k, name, n.relayIn, n.relayOut)),
            );
            if (args.length > 0) args.push("--next");
            args.push(...request("POST", "/api/v1/rules", add));
            args.push("--next");
            if (k % 2 === 0) args.push(...request("DELETE", `/api/v1/rules/${name}`));
            else {
              const put = `${dir}/put${k}.json`;
              Deno.writeTextFileSync(
                put,
                JSON.stringify(numberedRule(20_000 + k, name, n.relayIn, n.relayOut, 7000)),
              );
              args.push(...request("PUT", `/api/v1/rules/${name}`, put));
            }
          }
          return t.run(n.relay, ["curl", ...args], 600_000);
        });
        // Meanwhile: SIGHUP reloads (each re-reads 10,000 rules) and the input interface going
        // down and up, alternately, at growing intervals while the changes run.
        let racing = true;
        const disturb = (async () => {
          let round = 0;
          for (const waitMs of [2000, 4000, 6000, 10_000, 15_000, 20_000]) {
            await sleep(waitMs);
            if (!racing) break;
            if (round++ % 2 === 0) relay.process.kill("SIGHUP");
            else {
              await t.run(n.relay, ["ip", "link", "set", n.relayIn, "down"]);
              await sleep(200);
              await t.run(n.relay, ["ip", "link", "set", n.relayIn, "up"]);
            }
          }
          return round;
        })();
        const t0 = performance.now();
        const outs = await Promise.all(clients);
        racing = false;
        console.log(`1,000 changes answered in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
        const rounds = await disturb;
        assert.ok(rounds >= 2, `the changes raced ${rounds} reloads and flaps`);

        // Every change answered; which were acknowledged (2xx).
        const answers = outs.flatMap((o) => o.stdout.trim().split("\n"));
        assert.equal(answers.length, 2 * CLIENTS * PER_CLIENT);
        const refused = answers.filter((a) => !/ 20[01]$/.test(a));
        assert.deepEqual(refused, [], "every change acknowledged");

        // The interface is up again: wait for the re-plan to settle, then compare.
        await sleep(2000);
        const running = await apiGet<Config>(t, n.relay, "/api/v1/config");
        const onDisk = parseConfigText(Deno.readTextFileSync(relay.configPath), "file");
        assert.deepEqual(onDisk.rules, running.rules, "the file holds the running configuration");
        const byName = new Map(running.rules.map((r) => [r.name, r]));
        assert.equal(running.rules.length, BASE + CLIENTS * PER_CLIENT / 2);
        for (let k = 0; k < CLIENTS * PER_CLIENT; k++) {
          const r = byName.get(`c${k}`);
          if (k % 2 === 0) assert.equal(r, undefined, `c${k} removed`);
          else assert.equal(r?.outputs[0].port, 7000, `c${k} replaced`);
        }
        // The data plane: every rule forwarding, every group joined.
        const stats = await apiGet<StatsSnapshot>(t, n.relay, "/api/v1/stats");
        assert.equal(stats.rules.length, running.rules.length);
        assert.deepEqual(stats.rules.filter((r) => !r.active).map((r) => r.name), []);
        const resources = await apiGet<Resources>(t, n.relay, "/api/v1/resources");
        const joined = resources.memberships.filter((m) => m.interface === n.relayIn)
          .reduce((s, m) => s + m.memberships.length, 0);
        assert.equal(joined, running.rules.length, "one membership per rule's group");
        // And packets: a replaced rule forwards to its new port, a removed one not at all.
        const replaced = startSink(t, n.sink, {
          group: "239.200.78.33", // c1: 20,001 = 78 * 256 + 33
          port: 7000,
          iface: n.sinkIf,
          runId: 81,
          idleMs: 2500,
        });
        const removed = startSink(t, n.sink, {
          group: "239.200.78.32", // c0
          port: 6000,
          iface: n.sinkIf,
          runId: 80,
          idleMs: 2500,
          maxSeconds: 5, // nothing is to arrive: it listens 5 s (both streams are sent within 2 s)
        });
        await sleep(300);
        await runGen(t, n.gen, {
          group: "239.10.78.33",
          port: 5000,
          count: 500,
          rate: 1000,
          iface: n.genIf,
          runId: 81,
        });
        await runGen(t, n.gen, {
          group: "239.10.78.32",
          port: 5000,
          count: 500,
          rate: 1000,
          iface: n.genIf,
          runId: 80,
        });
        assert.equal((await replaced.result).unique, 500, "the replaced rule forwards");
        assert.equal((await removed.result).unique, 0, "the removed rule does not");
        await relay.stop();
      } finally {
        Deno.removeSync(dir, { recursive: true });
      }
    });
  },
  { timeoutMs: 420_000 },
);

rootTest(
  "scale: a bulk add of 5,000 rules to 10,000 is one acknowledged change (one apply, one write), and a batch with one bad rule is refused whole naming it",
  async () => {
    await withTopology(async (t) => {
      const n = await t.chain();
      const dir = Deno.makeTempDirSync({ prefix: "mcr-bulk-" });
      try {
        const relay = await startRelay(t, n.relay, numberedRulesYaml(BASE, n.relayIn, n.relayOut));
        const bulk = Array.from(
          { length: 5000 },
          (_, i) => numberedRule(30_000 + i, `b${i}`, n.relayIn, n.relayOut),
        );
        // One bad rule (a port out of range) at 4,321: nothing changes.
        const bad = structuredClone(bulk);
        bad[4321].outputs[0].port = 70_000;
        Deno.writeTextFileSync(`${dir}/bad.yaml`, JSON.stringify({ rules: bad }));
        const before = Deno.readTextFileSync(relay.configPath);
        const refused = await t.run(n.relay, [
          ...selfImport(`${dir}/bad.yaml`),
        ], 120_000);
        assert.equal(refused.code, 1, refused.stdout + refused.stderr);
        assert.match(refused.stderr, /add\[4321\] \(rule "b4321"\)/);
        assert.equal(Deno.readTextFileSync(relay.configPath), before, "the file is unchanged");
        assert.equal((await apiGet<Config>(t, n.relay, "/api/v1/config")).rules.length, BASE);

        Deno.writeTextFileSync(`${dir}/good.yaml`, JSON.stringify({ rules: bulk }));
        const changesBefore = relay.log.filter((l) => l.includes('"configuration applied"')).length;
        const ok = await t.run(n.relay, selfImport(`${dir}/good.yaml`), 120_000);
        assert.equal(ok.code, 0, ok.stderr);
        assert.match(ok.stdout, /imported 5000 rules .*: 5000 added/);
        await sleep(200);
        const changes = relay.log.filter((l) => l.includes('"configuration applied"')).length;
        assert.equal(changes - changesBefore, 1, "one change");
        const running = await apiGet<Config>(t, n.relay, "/api/v1/config");
        assert.equal(running.rules.length, BASE + 5000);
        const onDisk = parseConfigText(Deno.readTextFileSync(relay.configPath), "file");
        assert.deepEqual(onDisk.rules, running.rules);
        const stats = await apiGet<StatsSnapshot>(t, n.relay, "/api/v1/stats");
        assert.equal(stats.rules.filter((r) => r.active).length, BASE + 5000);
        await relay.stop();
      } finally {
        Deno.removeSync(dir, { recursive: true });
      }
    });
  },
);

function selfImport(file: string): string[] {
  return selfCommand(["rules", "import", file, "--api", API]);
}
