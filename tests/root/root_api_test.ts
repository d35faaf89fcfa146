/**
 * The control plane against a real relay in namespaces: runtime rule
 * changes, metrics checked against the receiver, `mcr health` exit codes,
 * persistence across a restart, and the listen/token rules.
 */
import assert from "node:assert/strict";
import { withTopology } from "../../src/tools/topology.ts";
import { selfCommand } from "../../src/runtime.ts";
import { parsePrometheus, sumOf } from "../helpers/prom_parse.ts";
import { rootTest } from "../helpers/netns.ts";
import { runGen, sleep, startRelay, startSink } from "../helpers/relay.ts";
import { waitFor } from "../helpers/routing.ts";
import { RESPONSE_SCHEMAS } from "../../src/api/responses.ts";

const API = "http://127.0.0.1:8787";

rootTest(
  "root: a rule added over HTTP forwards within 1 s, stops within 1 s of its removal, and the other rule loses nothing",
  async () => {
    await withTopology(async (t) => {
      const n = await t.chain();
      const relay = await startRelay(
        t,
        n.relay,
        `rules:\n  - name: base\n    input: { interface: ${n.relayIn}, group: 239.1.1.1, port: 5001 }\n` +
          `    outputs:\n      - { interface: ${n.relayOut}, group: 239.9.9.9, port: 5099 }\n`,
      );
      const sink = startSink(t, n.sink, {
        group: "239.9.9.8",
        port: 5098,
        iface: n.sinkIf,
        runId: 51,
        idleMs: 3000,
      });
      // The unaffected rule's stream runs through both changes.
      const baseSink = startSink(t, n.sink, {
        group: "239.9.9.9",
        port: 5099,
        iface: n.sinkIf,
        runId: 50,
        idleMs: 3000,
      });
      const rate = 2000;
      await sleep(300);
      // Long enough that the remove (two CLI processes started on a busy machine) lands well before the end.
      const baseGen = runGen(t, n.gen, {
        group: "239.1.1.1",
        port: 5001,
        count: 8 * rate,
        rate,
        iface: n.genIf,
        runId: 50,
      });
      const genStart = performance.now();
      const gen = runGen(t, n.gen, {
        group: "239.1.1.2",
        port: 5002,
        count: 7 * rate,
        rate,
        iface: n.genIf,
        runId: 51,
      });
      await sleep(1000);
      const add = await t.run(
        n.relay,
        selfCommand([
          "rules",
          "add",
          "--api",
          API,
          "--name",
          "added",
          "--in",
          n.relayIn,
          "--group",
          "239.1.1.2",
          "--port",
          "5002",
          "--out",
          `${n.relayOut}:239.9.9.8:5098`,
        ]),
      );
      const addedAt = (performance.now() - genStart) / 1000;
      assert.equal(add.code, 0, add.stderr);
      await sleep(1500);
      const del = await t.run(n.relay, selfCommand(["rules", "remove", "added", "--api", API]));
      const removedAt = (performance.now() - genStart) / 1000;
      assert.equal(del.code, 0, del.stderr);
      await gen;
      await baseGen;
      const got = await sink.result;
      const base = await baseSink.result;
      await relay.stop();
      assert.equal(
        base.unique,
        8 * rate,
        "the unaffected rule lost no packet across two reconfigurations",
      );
      assert.equal(base.duplicates, 0);
      // The generator is paced, so a sequence number says when the packet was sent.
      assert.ok(got.unique > 0, "packets arrived after the rule was added");
      assert.ok(
        got.min_seq <= (addedAt + 1) * rate,
        `first relayed seq ${got.min_seq} (rule added at ${addedAt.toFixed(2)} s)`,
      );
      assert.ok(
        got.max_seq <= (removedAt + 1) * rate,
        `last relayed seq ${got.max_seq} (rule removed at ${removedAt.toFixed(2)} s)`,
      );
      assert.ok(
        got.max_seq < 7 * rate - 1,
        `forwarding stopped before the generator did (removed at ${removedAt.toFixed(2)} s)`,
      );
      assert.equal(got.duplicates, 0);
    });
  },
);

rootTest(
  "root: /metrics parses as Prometheus text and its counters match what the receiver saw",
  async () => {
    await withTopology(async (t) => {
      const n = await t.chain();
      const relay = await startRelay(
        t,
        n.relay,
        `rules:\n  - name: m1\n    input: { interface: ${n.relayIn}, group: 239.1.1.1, port: 5001 }\n` +
          `    outputs:\n      - { interface: ${n.relayOut}, group: 239.9.9.9, port: 5099 }\n`,
      );
      const sink = startSink(t, n.sink, {
        group: "239.9.9.9",
        port: 5099,
        iface: n.sinkIf,
        runId: 52,
        expect: 3000,
      });
      await sleep(300);
      await runGen(t, n.gen, {
        group: "239.1.1.1",
        port: 5001,
        count: 3000,
        rate: 3000,
        iface: n.genIf,
        runId: 52,
      });
      // A few non-matching datagrams on the same group and another port.
      await runGen(t, n.gen, {
        group: "239.1.1.1",
        port: 5009,
        count: 7,
        rate: 100,
        iface: n.genIf,
        runId: 99,
      });
      const got = await sink.result;
      const res = await t.run(n.relay, ["curl", "-sf", `${API}/metrics`]);
      await relay.stop();
      assert.equal(res.code, 0);
      const m = parsePrometheus(res.stdout);
      assert.equal(m.types.get("mcr_output_packets_total"), "counter");
      assert.equal(got.unique, 3000);
      assert.equal(
        sumOf(m, "mcr_output_packets_total", {
          rule: "m1",
          output: `${n.relayOut} 239.9.9.9:5099`,
        }),
        got.unique,
      );
      assert.equal(sumOf(m, "mcr_rule_packets_total", { rule: "m1" }), 3000);
      assert.equal(sumOf(m, "mcr_tx_packets_total"), 3000);
      assert.equal(
        sumOf(m, "mcr_drop_total", { reason: "no_match" }),
        0,
        "the kernel filter kept the other port out",
      );
      assert.equal(sumOf(m, "mcr_interface_up", { interface: n.relayIn }), 1);
    });
  },
);

rootTest(
  "root: mcr health is 0 while traffic flows, 2 once the input is silent past its window, 3 when unreachable",
  async () => {
    await withTopology(async (t) => {
      const n = await t.chain();
      const relay = await startRelay(
        t,
        n.relay,
        `rules:\n  - name: h1\n    stale_after_ms: 1500\n    input: { interface: ${n.relayIn}, group: 239.1.1.1, port: 5001 }\n` +
          `    outputs:\n      - { interface: ${n.relayOut}, group: 239.9.9.9, port: 5099 }\n`,
      );
      const gen = runGen(t, n.gen, {
        group: "239.1.1.1",
        port: 5001,
        count: 8000,
        rate: 2000,
        iface: n.genIf,
      });
      await sleep(2500);
      const during = await t.run(n.relay, selfCommand(["health", "--api", API]));
      const oneRule = await t.run(
        n.relay,
        selfCommand(["health", "--api", API, "--rule", "h1", "-w", "100000", "-c", "200000"]),
      );
      const overLoad = await t.run(
        n.relay,
        selfCommand(["health", "--api", API, "--silent-warn", "0", "--silent-crit", "3600"]),
      );
      const noRule = await t.run(n.relay, selfCommand(["health", "--api", API, "--rule", "nope"]));
      await gen;
      await sleep(3000);
      const after = await t.run(n.relay, selfCommand(["health", "--api", API]));
      const json = await t.run(n.relay, selfCommand(["health", "--api", API, "--json"]));
      await relay.stop();
      const unreachable = await t.run(
        n.relay,
        selfCommand(["health", "--api", "http://127.0.0.1:1", "--timeout-ms", "1000"]),
      );
      assert.equal(during.code, 0, during.stdout);
      assert.match(during.stdout, /^MCR OK - /);
      assert.equal(during.stdout.trim().split("\n").length, 1, "one line");
      assert.match(
        during.stdout,
        /\| 'rx_pps'=\d+;;;0 'loss_pps'=[\d.]+;;;0 /,
        "perfdata, OK included",
      );
      assert.equal(oneRule.code, 0, oneRule.stdout);
      assert.match(
        oneRule.stdout,
        /^MCR OK - rule h1, 1 rules, .* 'loss_pps'=[\d.]+;100000;200000;0 /,
      );
      assert.equal(
        overLoad.code,
        1,
        `a silence above --silent-warn 0 is a warning: ${overLoad.stdout}`,
      );
      assert.equal(noRule.code, 3, noRule.stdout);
      assert.match(noRule.stdout, /^MCR UNKNOWN - no rule named "nope"/);
      assert.equal(after.code, 2, after.stdout);
      assert.match(after.stdout, /^MCR CRITICAL - rule h1 silent for/);
      assert.equal(JSON.parse(json.stdout).status, "critical");
      assert.equal(unreachable.code, 3);
      assert.match(
        unreachable.stdout,
        /^MCR UNKNOWN - .* \| 'rx_pps'=U;;;0 /,
        "UNKNOWN carries perfdata too, its values U",
      );
    });
  },
);

rootTest("root: runtime changes are written back and a restarted relay restores them", async () => {
  await withTopology(async (t) => {
    const n = await t.chain();
    const relay = await startRelay(
      t,
      n.relay,
      `rules:\n  - name: p1\n    input: { interface: ${n.relayIn}, group: 239.1.1.1, port: 5001 }\n` +
        `    outputs:\n      - { interface: ${n.relayOut}, group: 239.9.9.9, port: 5099 }\n`,
    );
    const add = await t.run(
      n.relay,
      selfCommand([
        "rules",
        "add",
        "--api",
        API,
        "--name",
        "p2",
        "--in",
        n.relayIn,
        "--group",
        "239.1.1.2",
        "--port",
        "5002",
        "--out",
        `${n.relayOut}:239.9.9.8:5098:9`,
      ]),
    );
    assert.equal(add.code, 0, add.stderr);
    const bad = await t.run(n.relay, [
      "curl",
      "-s",
      "-o",
      "/dev/null",
      "-w",
      "%{http_code}",
      "-X",
      "POST",
      "-H",
      "content-type: application/json",
      "-d",
      '{"name":"p3","input":{"interface":"x","group":"1.1.1.1","port":1},"outputs":[]}',
      `${API}/api/v1/rules`,
    ]);
    assert.equal(bad.stdout, "400");
    const persisted = Deno.readTextFileSync(relay.configPath);
    await relay.stop();
    assert.match(persisted, /name: p2/);
    assert.doesNotMatch(persisted, /p3/);
    const again = await startRelay(t, n.relay, persisted);
    const list = await t.run(n.relay, selfCommand(["rules", "list", "--api", API, "--json"]));
    await again.stop();
    const names = JSON.parse(list.stdout).map((r: { name: string }) => r.name);
    assert.deepEqual(names, ["p1", "p2"]);
    assert.equal(JSON.parse(list.stdout)[1].outputs[0].ttl, 9);
  });
});

rootTest(
  "root: a non-loopback listen without a token is refused; with one, a mutation without it is 401",
  async () => {
    await withTopology(async (t) => {
      const n = await t.chain();
      const config =
        `rules:\n  - name: s1\n    input: { interface: ${n.relayIn}, group: 239.1.1.1, port: 5001 }\n` +
        `    outputs:\n      - { interface: ${n.relayOut}, group: 239.9.9.9, port: 5099 }\n`;
      await assert.rejects(
        startRelay(t, n.relay, config, ["--listen", "10.0.1.1:8787"]),
        /refusing to serve the API on non-loopback address 10\.0\.1\.1:8787 without a token/,
      );
      const token = "token-for-the-test-0123456789";
      const relay = await startRelay(t, n.relay, config, ["--listen", "10.0.1.1:8787"], {
        MCR_API_TOKEN: token,
      });
      const code = (args: string[]) =>
        t.run(n.sink, ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", ...args]);
      const noToken = await code(["-X", "DELETE", "http://10.0.1.1:8787/api/v1/rules/s1"]);
      const readNoToken = await code(["http://10.0.1.1:8787/api/v1/rules"]);
      const health = await code(["http://10.0.1.1:8787/health"]);
      const withToken = await code([
        "-H",
        `authorization: Bearer ${token}`,
        "http://10.0.1.1:8787/api/v1/rules",
      ]);
      const { stats } = await relay.stop();
      assert.equal(noToken.stdout, "401");
      assert.equal(readNoToken.stdout, "401");
      assert.equal(health.stdout, "200");
      assert.equal(withToken.stdout, "200");
      assert.ok(stats);
      assert.ok(!relay.log.join("\n").includes(token), "the token never appears in the log");
    });
  },
);

rootTest(
  "root: SIGHUP reloads a valid config file and keeps the running one when the file is invalid; the API answers on its unix socket",
  async () => {
    await withTopology(async (t) => {
      const n = await t.chain();
      const socket = `${Deno.makeTempDirSync()}/mcr.sock`;
      const base =
        `api:\n  unix_socket: ${socket}\nrules:\n  - name: h1\n    input: { interface: ${n.relayIn}, group: 239.1.1.1, port: 5001 }\n` +
        `    outputs:\n      - { interface: ${n.relayOut}, group: 239.9.9.9, port: 5099 }\n`;
      const relay = await startRelay(t, n.relay, base, ["--no-persist"]);
      const rules = async () => {
        const r = await new Deno.Command("curl", {
          args: ["-sf", "--unix-socket", socket, "http://localhost/api/v1/rules"],
          stdout: "piped",
        }).output();
        assert.ok(r.success, "the unix socket answers");
        return JSON.parse(new TextDecoder().decode(r.stdout)).map((x: { name: string }) => x.name);
      };
      assert.deepEqual(await rules(), ["h1"]);
      // The CLI over the socket (as vtysh or birdc over theirs).
      const cli = await t.run(
        n.relay,
        selfCommand(["rules", "list", "--api", `unix:${socket}`, "--json"]),
      );
      assert.equal(cli.code, 0, cli.stderr);
      assert.deepEqual(JSON.parse(cli.stdout).map((x: { name: string }) => x.name), ["h1"]);
      Deno.writeTextFileSync(
        relay.configPath,
        base +
          `  - name: h2\n    input: { interface: ${n.relayIn}, group: 239.1.1.2, port: 5002 }\n` +
          `    outputs:\n      - { interface: ${n.relayOut}, group: 239.9.9.8, port: 5098 }\n`,
      );
      relay.process.kill("SIGHUP");
      await sleep(1000);
      assert.deepEqual(await rules(), ["h1", "h2"], "reloaded");
      Deno.writeTextFileSync(relay.configPath, base.replace("239.9.9.9", "10.9.9.9"));
      relay.process.kill("SIGHUP");
      await sleep(1000);
      assert.deepEqual(await rules(), ["h1", "h2"], "an invalid file changes nothing");
      const { code } = await relay.stop();
      assert.equal(code, 0);
      assert.ok(
        relay.log.some((l) =>
          l.includes("reload failed") && l.includes("rules[0].outputs[0].group")
        ),
        "the reason is logged",
      );
    });
  },
);

rootTest(
  "root: GET /api/v1/events streams stats every second, config and interface events; a client that never reads delays nothing",
  async () => {
    await withTopology(async (t) => {
      const n = await t.chain();
      const relay = await startRelay(
        t,
        n.relay,
        `rules:\n  - name: e1\n    input: { interface: ${n.relayIn}, group: 239.1.1.1, port: 5001 }\n` +
          `    outputs:\n      - { interface: ${n.relayOut}, group: 239.9.9.9, port: 5099 }\n`,
      );
      // A subscriber that connects and never reads what it is sent.
      const stalled = t.spawn(n.relay, [
        "sh",
        "-c",
        "(printf 'GET /api/v1/events HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\n\\r\\n'; sleep 10) | socat -u - TCP:127.0.0.1:8787,rcvbuf=2048",
      ], { stdout: "null", stderr: "null" });
      // The reader stays until the last event this test waits for has come (60 s: a guard).
      const reader = t.spawn(n.relay, ["curl", "-sN", "--max-time", "60", `${API}/api/v1/events`], {
        stdout: "piped",
        stderr: "null",
      });
      let out = "";
      const pump = (async () => {
        for await (const chunk of reader.stdout.pipeThrough(new TextDecoderStream())) out += chunk;
      })();
      const readerStart = Date.now();
      const sink = startSink(t, n.sink, {
        group: "239.9.9.9",
        port: 5099,
        iface: n.sinkIf,
        runId: 77,
        idleMs: 1000,
      });
      await sleep(500);
      const gen = runGen(t, n.gen, {
        group: "239.1.1.1",
        port: 5001,
        count: 8000,
        rate: 2000,
        iface: n.genIf,
        runId: 77,
      });
      await sleep(1500);
      const add = await t.run(n.relay, [
        "curl",
        "-sf",
        "-X",
        "POST",
        "-H",
        "content-type: application/json",
        "-d",
        JSON.stringify({
          name: "e2",
          input: { interface: n.relayIn, group: "239.1.1.2", port: 5002 },
          outputs: [{ interface: n.relayOut, group: "239.9.9.8", port: 5098 }],
        }),
        `${API}/api/v1/rules`,
      ]);
      assert.equal(add.code, 0, add.stderr);
      await gen;
      const got = await sink.result;
      await t.run(n.relay, ["ip", "link", "set", n.relayOut, "down"]);
      await sleep(300);
      await t.run(n.relay, ["ip", "link", "set", n.relayOut, "up"]);
      await waitFor(
        "the interface and health events",
        15_000,
        () => Promise.resolve(/"down"/.test(out) && out.includes("event: health")),
      ).catch(() => {}); // what is missing is named by the assertions below
      const readMs = Date.now() - readerStart;
      reader.kill("SIGTERM");
      await reader.status;
      await pump;
      stalled.kill("SIGKILL");
      await stalled.status;
      await relay.stop();
      const events = out.split("\n\n").map((b) =>
        Object.fromEntries(
          b.split("\n").filter((l) => l.includes(": ")).map((
            l,
          ) => [l.slice(0, l.indexOf(": ")), l.slice(l.indexOf(": ") + 2)]),
        )
      );
      const stats = events.filter((e) => e.event === "stats").map((e) => JSON.parse(e.data));
      // One a second: at least one for every two seconds read, whatever the machine's load.
      assert.ok(
        stats.length >= Math.floor(readMs / 2000),
        `${stats.length} stats events in ${readMs} ms`,
      );
      assert.ok(stats.length >= 4, `${stats.length} stats events in ${readMs} ms`);
      assert.ok(
        stats.some((s) => s.rx_pps > 1000),
        `stats show the stream: ${JSON.stringify(stats.map((s) => s.rx_pps))}`,
      );
      const config = events.filter((e) => e.event === "config").map((e) => JSON.parse(e.data));
      assert.ok(config.some((c) => c.added?.includes("e2")), "the rule add is an event");
      assert.ok(
        events.some((e) => e.event === "interface" && e.data.includes('"down"')),
        "link down is an event",
      );
      assert.ok(
        events.some((e) => e.event === "health"),
        "the link going down turned the health critical: a transition event",
      );
      // The stalled subscriber delayed neither the stream nor the relay.
      assert.equal(got.unique, 8000, "every packet relayed");
    });
  },
);

rootTest(
  "root: a running relay's JSON answers fit the schemas its OpenAPI document names (stats with traffic, interfaces, resources, workers, health, version)",
  async () => {
    await withTopology(async (t) => {
      const n = await t.chain();
      const relay = await startRelay(
        t,
        n.relay,
        `rules:\n  - name: s1\n    input: { interface: ${n.relayIn}, group: 239.1.1.1, port: 5001 }\n` +
          `    outputs:\n      - { interface: ${n.relayOut}, group: 239.9.9.9, port: 5099, ttl: 8 }\n`,
      );
      try {
        const sink = startSink(t, n.sink, {
          group: "239.9.9.9",
          port: 5099,
          iface: n.sinkIf,
          runId: 41,
          idleMs: 1000,
        });
        await sleep(300);
        await runGen(t, n.gen, {
          group: "239.1.1.1",
          port: 5001,
          count: 2000,
          rate: 2000,
          iface: n.genIf,
          runId: 41,
        });
        assert.equal((await sink.result).unique, 2000);
        const doc = JSON.parse(
          (await t.run(n.relay, ["curl", "-sf", `${API}/api/v1/openapi.json`])).stdout,
        );
        const checked: string[] = [];
        for (
          const [path, item] of Object.entries(
            doc.paths as Record<
              string,
              Record<
                string,
                {
                  responses: Record<
                    string,
                    { content?: Record<string, { schema: { $ref?: string } }> }
                  >;
                }
              >
            >,
          )
        ) {
          // The event stream never ends: it has its own test above.
          if (
            !item.get || path.includes("{") ||
            item.get.responses["200"]?.content?.["text/event-stream"]
          ) continue;
          const r = await t.run(n.relay, [
            "curl",
            "-s",
            "-m",
            "10",
            "-o",
            "/dev/stdout",
            "-w",
            "\n%{http_code}",
            `${API}${path}`,
          ]);
          const lines = r.stdout.trimEnd().split("\n");
          const status = lines.pop()!;
          const ref = item.get.responses[status]?.content?.["application/json"]?.schema.$ref;
          assert.ok(
            item.get.responses[status],
            `GET ${path} answered ${status}, which the document does not describe`,
          );
          if (!ref) continue;
          const name = ref.split("/").pop() as keyof typeof RESPONSE_SCHEMAS;
          const parsed = RESPONSE_SCHEMAS[name].safeParse(JSON.parse(lines.join("\n")));
          assert.ok(
            parsed.success,
            `GET ${path} does not fit ${name}: ${JSON.stringify(parsed.error?.issues)}`,
          );
          checked.push(name);
        }
        for (
          const name of [
            "Stats",
            "Interfaces",
            "Resources",
            "Workers",
            "Health",
            "Version",
            "Config",
            "RuleList",
            "LogLevel",
          ]
        ) {
          assert.ok(checked.includes(name), `${name} was checked (${checked})`);
        }
      } finally {
        await relay.stop();
      }
    });
  },
);
