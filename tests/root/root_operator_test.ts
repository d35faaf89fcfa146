/**
 * What an operator sees is the truth: a refused reload is visible (metric,
 * event, `mcr reload`'s exit code), a storm of SIGHUPs is a few reloads and
 * never starves the API, a paused relay (SIGSTOP, a VM or container pause)
 * does not restart its healthy workers, and a rule name a URL cannot carry
 * is refused.
 */
import assert from "node:assert/strict";
import { selfCommand } from "../../src/runtime.ts";
import { type ChainNames, type Topology, withTopology } from "../../src/tools/topology.ts";
import { rootTest } from "../helpers/netns.ts";
import { runGen, sleep, startRelay } from "../helpers/relay.ts";
import { apiGet, apiSend, startStream, waitFor } from "../helpers/routing.ts";
import { parsePerfdata } from "../helpers/perfdata.ts";

const API = "http://127.0.0.1:8787";

function ruleYaml(input: string, output: string, name = "a", port = 5001): string {
  return `  - name: ${name}\n    input: { interface: ${input}, group: 239.1.1.1, port: ${port} }\n` +
    `    outputs:\n      - { interface: ${output}, group: 239.9.9.1, port: ${port + 1000} }\n`;
}

/** A relay with fault injection on (POST /api/v1/debug/fault), one rule, `head` before its rules. */
function faultyRelay(t: Topology, n: ChainNames, head = "") {
  return startRelay(t, n.relay, `${head}rules:\n${ruleYaml(n.relayIn, n.relayOut)}`, [], {
    MCR_FAULT_INJECTION: "1",
  });
}

/** A metric's value from /metrics text (the first series of the family). */
function metric(text: string, name: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  if (!line) throw new Error(`no ${name} in /metrics`);
  return Number(line.split(" ").pop());
}

rootTest(
  "operator: a refused reload is seen: mcr reload exits 1 naming the field, the config-change metric turns 0 with a new time, and a config event says why; a good file reloads with exit 0",
  async () => {
    await withTopology(async (t) => {
      const n = await t.chain();
      const good = `rules:\n${ruleYaml(n.relayIn, n.relayOut)}`;
      const relay = await startRelay(t, n.relay, good);
      const events = t.spawn(n.relay, ["curl", "-sN", "--max-time", "8", `${API}/api/v1/events`], {
        stdout: "piped",
        stderr: "null",
      });
      const eventText = new Response(events.stdout).text();
      await sleep(300);
      const reload = () => t.run(n.relay, selfCommand(["reload", "--api", API]));
      const ok = await reload();
      assert.equal(ok.code, 0, ok.stderr);
      const metrics = () => t.run(n.relay, ["curl", "-sf", `${API}/metrics`]);
      const before = (await metrics()).stdout;
      assert.equal(metric(before, "mcr_config_last_change_successful"), 1);
      Deno.writeTextFileSync(relay.configPath, good.replace("port: 5001", "port: 500001"));
      const bad = await reload();
      assert.equal(bad.code, 1, bad.stdout + bad.stderr);
      assert.match(bad.stderr, /rules\[0\]\.input\.port/);
      await sleep(1_100);
      relay.process.kill("SIGHUP");
      await sleep(1_000);
      const after = (await metrics()).stdout;
      assert.equal(metric(after, "mcr_config_last_change_successful"), 0);
      assert.ok(
        metric(after, "mcr_config_last_change_timestamp_seconds") >
          metric(before, "mcr_config_last_change_timestamp_seconds"),
        "the time of the refused change",
      );
      const rules = await apiGet<{ name: string; input: { port: number } }[]>(
        t,
        n.relay,
        "/api/v1/rules",
      );
      assert.equal(rules[0].input.port, 5001, "the running configuration stays");
      await relay.stop();
      const text = await eventText;
      assert.match(text, /event: config\ndata: \{"ok":false,"error":"[^"]*port/);
    });
  },
);

rootTest(
  "operator: a storm of 300 SIGHUPs on a relay of 1,000 rules (each reload tens of ms) is a few reloads, none left queued after it, and a rule added over the API meanwhile is answered at once",
  async () => {
    await withTopology(async (t) => {
      const n = await t.chain();
      const rules = Array.from(
        { length: 1000 },
        (_, i) =>
          `  - name: r${i}\n    input: { interface: ${n.relayIn}, group: 239.1.${i >> 8}.${
            i & 255
          }, port: 5001 }\n` +
          `    outputs: [{ interface: ${n.relayOut}, group: 239.9.${i >> 8}.${
            i & 255
          }, port: 6001 }]\n`,
      ).join("");
      const relay = await startRelay(t, n.relay, `rules:\n${rules}`);
      const pid = relay.process.pid;
      const storm = t.run(n.relay, [
        "bash",
        "-c",
        `for i in $(seq 300); do kill -HUP ${pid}; done`,
      ]);
      const t0 = Date.now();
      const add = await apiSend(t, n.relay, "POST", "/api/v1/rules", {
        name: "b",
        input: { interface: n.relayIn, group: "239.2.1.2", port: 5002 },
        outputs: [{ interface: n.relayOut, group: "239.9.200.2", port: 6002 }],
      });
      const answeredMs = Date.now() - t0;
      await storm;
      const stormEnded = relay.log.length;
      await sleep(3_000);
      const { code } = await relay.stop();
      assert.equal(code, 0);
      assert.equal(add.status, 201, add.text);
      assert.ok(answeredMs < 5_000, `answered in ${answeredMs} ms during the storm`);
      const reloaded = (lines: string[]) =>
        lines.filter((l) => l.includes("configuration reloaded")).length;
      const reloads = reloaded(relay.log);
      assert.ok(reloads >= 1 && reloads <= 100, `300 signals, ${reloads} reloads`);
      // One reload may still run for signals of the last moment; no backlog beyond it.
      const after = reloaded(relay.log.slice(stormEnded));
      assert.ok(after <= 2, `${after} reloads after the storm ended`);
    });
  },
);

rootTest(
  "operator: a relay paused 1.2 s (SIGSTOP, SIGCONT) three times keeps its workers: a pause is not a stuck worker",
  async () => {
    await withTopology(async (t) => {
      const n = await t.chain();
      const relay = await startRelay(
        t,
        n.relay,
        `workers: 2\nrules:\n${ruleYaml(n.relayIn, n.relayOut)}`,
      );
      for (let i = 0; i < 3; i++) {
        relay.process.kill("SIGSTOP");
        await sleep(1_200);
        relay.process.kill("SIGCONT");
        await sleep(1_500);
      }
      const workers = await apiGet<{ id: number; restarts: number; alive: boolean }[]>(
        t,
        n.relay,
        "/api/v1/workers",
      );
      await relay.stop();
      assert.deepEqual(workers.map((w) => [w.alive, w.restarts]), [[true, 0], [true, 0]]);
      assert.ok(
        relay.log.some((l) => l.includes("not scheduled for a while")),
        "the pause is logged",
      );
    });
  },
);

rootTest(
  "operator: a worker starved of CPU while the supervisor runs (a real-time task takes its CPU for 1.5 s) is told as starved and not restarted; a hang is still restarted",
  async () => {
    await withTopology(async (t) => {
      const n = await t.chain();
      const cpus = navigator.hardwareConcurrency;
      const relay = await faultyRelay(t, n, `worker_cpus: [${cpus - 1}]\n`);
      // SCHED_FIFO on the worker's CPU: the worker is runnable but gets only what RT
      // throttling leaves (50 ms a second); the supervisor runs on the other CPU.
      // timeout runs at normal priority on any CPU, so it can end the hog.
      const hog = await t.run(n.relay, [
        "timeout",
        "-k",
        "1",
        "1.5",
        "chrt",
        "-f",
        "50",
        "taskset",
        "-c",
        String(cpus - 1),
        "sh",
        "-c",
        "while :; do :; done",
      ]);
      assert.equal(hog.code, 124, `the hog ran its 1.5 s: ${hog.stderr}`);
      await sleep(700);
      const during = await apiGet<{ id: number; restarts: number; alive: boolean }[]>(
        t,
        n.relay,
        "/api/v1/workers",
      );
      assert.deepEqual(during.map((w) => [w.alive, w.restarts]), [[true, 0]], relay.log.join("\n"));
      assert.ok(
        relay.log.some((l) => l.includes("worker starved of CPU")),
        `the starvation is told: ${relay.log.filter((l) => l.includes("worker")).join("\n")}`,
      );
      // A worker that spins without beating is still stuck: restarted.
      const hang = await apiSend(t, n.relay, "POST", "/api/v1/debug/fault", {
        worker: 0,
        kind: "hang",
      });
      assert.equal(hang.status, 200);
      await sleep(2_500);
      const after = await apiGet<{ restarts: number }[]>(t, n.relay, "/api/v1/workers");
      await relay.stop();
      assert.equal(after[0].restarts, 1, "the hang was restarted");
    });
  },
  { needs: ["rt_sched"] },
);

rootTest(
  "operator: mcr health --rule judges that rule alone (cam1's failing output does not turn cam2's check WARNING); ranges, -t, -v and -V work; every status line has strict monitoring-plugins perfdata",
  async () => {
    await withTopology(async (t) => {
      const n = await t.chain();
      const relay = await startRelay(
        t,
        n.relay,
        `rules:\n  - name: cam1\n    input: { interface: ${n.relayIn}, group: 239.1.1.1, port: 5001 }\n` +
          `    outputs:\n      - { egress: routed, address: 198.51.100.9, port: 7001 }\n` +
          ruleYaml(n.relayIn, n.relayOut, "cam2", 5002).replace("239.1.1.1", "239.1.1.2"),
      );
      const streams = [
        startStream(t, n.gen, {
          group: "239.1.1.1",
          port: 5001,
          rate: 500,
          seconds: 30,
          iface: n.genIf,
        }),
        startStream(t, n.gen, {
          group: "239.1.1.2",
          port: 5002,
          rate: 500,
          seconds: 30,
          iface: n.genIf,
        }),
      ];
      try {
        await sleep(3_000);
        const health = (args: string[]) =>
          t.run(n.relay, selfCommand(["health", "--api", API, ...args]));
        const cam2 = await health(["--rule", "cam2"]);
        const cam1 = await health(["--rule", "cam1"]);
        const cam1Crit = await health(["--rule", "cam1", "-c", "10"]);
        // @0:5 alerts when the value is inside 0..5: cam2's loss (0) is, so WARNING.
        const inside = await health(["--rule", "cam2", "-w", "@0:5"]);
        const range = await health(["--rule", "cam2", "-w", "10:20", "-t", "5"]);
        const verbose = await health(["--rule", "cam1", "-v"]);
        const version = await health(["-V"]);
        assert.equal(cam2.code, 0, `cam2 is judged on its own outputs: ${cam2.stdout}`);
        assert.match(cam2.stdout, /^MCR OK - rule cam2/);
        assert.equal(cam1.code, 1, cam1.stdout);
        assert.match(cam1.stdout, /^MCR WARNING - rule cam1/);
        assert.equal(cam1Crit.code, 2, cam1Crit.stdout);
        assert.equal(inside.code, 1, inside.stdout);
        assert.equal(range.code, 1, `0 is outside 10:20: ${range.stdout}`);
        assert.equal(verbose.code, 1);
        assert.equal(version.code, 0);
        assert.match(version.stdout, /^mcr health \d+\.\d+\.\d+/);
        for (const r of [cam2, cam1, cam1Crit, inside, range, verbose]) {
          const [first, ...rest] = r.stdout.trim().split("\n");
          const p = parsePerfdata(first);
          assert.ok(p.has("loss_pps") && p.has("rx_pps"), first);
          for (const line of rest) assert.equal(line.includes("|"), false, `long text: ${line}`);
        }
        assert.equal(parsePerfdata(range.stdout.split("\n")[0]).get("loss_pps")!.warn, "10:20");
        assert.equal(parsePerfdata(cam1Crit.stdout.split("\n")[0]).get("loss_pps")!.crit, "10");
        assert.ok(verbose.stdout.trim().split("\n").length >= 2, "-v: the reasons, a line each");
      } finally {
        await Promise.all(streams.map((s) => s.kill()));
        await relay.stop();
      }
    });
  },
);

rootTest(
  "operator: two clients read-modify-write the config of a running relay: the stale one is refused 412 (RFC 9457 problem), nothing of it in force; the file keeps the rule's comments and flow maps through an edit of one value",
  async () => {
    await withTopology(async (t) => {
      const n = await t.chain();
      const yaml =
        `rules:\n  # the camera feed\n  - name: a\n    input: { interface: ${n.relayIn}, group: 239.1.1.1, port: 5001 } # studio\n` +
        `    outputs:\n      # to the edge\n      - { interface: ${n.relayOut}, group: 239.9.9.1, port: 6001, dscp: 10 }\n`;
      const relay = await startRelay(t, n.relay, yaml);
      const get = async () => {
        const r = await t.run(n.relay, ["curl", "-s", "-i", `${API}/api/v1/config`]);
        const [head, body] = r.stdout.split("\r\n\r\n");
        return { etag: /etag: (".*")/i.exec(head)![1], config: JSON.parse(body) };
      };
      const put = (config: unknown, etag: string) =>
        apiSend(t, n.relay, "PUT", "/api/v1/config", config, 10, { "if-match": etag });
      const a = await get();
      const b = await get();
      a.config.rules[0].outputs[0].dscp = 46;
      const first = await put(a.config, a.etag);
      assert.equal(first.status, 200, first.text);
      b.config.rules[0].outputs[0].port = 6999;
      const second = await put(b.config, b.etag);
      assert.equal(second.status, 412, second.text);
      const problem = JSON.parse(second.text);
      assert.equal(problem.code, "precondition_failed");
      assert.equal(problem.type, "/problems/precondition_failed");
      const now = await get();
      assert.equal(now.config.rules[0].outputs[0].dscp, 46, "the first client's change");
      assert.equal(now.config.rules[0].outputs[0].port, 6001, "nothing of the stale one");
      const file = Deno.readTextFileSync(relay.configPath);
      await relay.stop();
      assert.equal(
        file,
        yaml.replace("dscp: 10", "dscp: 46"),
        "only the value changed, where it stood",
      );
    });
  },
);

rootTest(
  'operator: a rule named "." or ".." is refused (a URL path cannot name it back)',
  async () => {
    await withTopology(async (t) => {
      const n = await t.chain();
      const relay = await startRelay(t, n.relay, `rules:\n${ruleYaml(n.relayIn, n.relayOut)}`);
      for (const name of [".", ".."]) {
        const r = await apiSend(t, n.relay, "POST", "/api/v1/rules", {
          name,
          input: { interface: n.relayIn, group: "239.1.1.3", port: 5003 },
          outputs: [{ interface: n.relayOut, group: "239.9.9.3", port: 6003 }],
        });
        assert.equal(r.status, 400, `${name}: ${r.text}`);
        assert.match(r.text, /cannot be named/);
      }
      await relay.stop();
    });
  },
);

rootTest(
  "operator: a link going down and up is two warnings (down, up); the IPv6 address that leaves and returns with it is told as following the link, never warned about as a changed address",
  async () => {
    await withTopology(async (t) => {
      const n = await t.chain({ ipv6: true }); // link-local addresses leave with the link
      const relay = await startRelay(t, n.relay, `rules:\n${ruleYaml(n.relayIn, n.relayOut)}`);
      // The link-local address must be there (past DAD) before the flap.
      await sleep(2500);
      await t.run(n.relay, ["ip", "link", "set", n.relayIn, "down"]);
      await sleep(1500);
      await t.run(n.relay, ["ip", "link", "set", n.relayIn, "up"]);
      await sleep(4000); // DAD, and the relay's reading of it
      await relay.stop();
      const lines = relay.log.filter((l) => l.includes(`interface \\"${n.relayIn}\\"`));
      const warned = lines.filter((l) => l.includes('"level":"warn"'));
      assert.ok(warned.some((l) => l.includes("went down")), lines.join("\n"));
      assert.ok(warned.some((l) => l.includes("went up")), lines.join("\n"));
      assert.deepEqual(
        warned.filter((l) => l.includes("changed")),
        [],
        "no address warning for a link flap",
      );
      assert.ok(
        lines.some((l) =>
          l.includes('"level":"info"') && /changed IPv6 address .*\(with its link\)/.test(l)
        ),
        `the address change was seen and told as following the link:\n${lines.join("\n")}`,
      );
    });
  },
);

rootTest(
  "operator: an output the kernel refuses (no route: ENETUNREACH) is logged by rule and output with the errno's name, and shows its errors in mcr stats",
  async () => {
    await withTopology(async (t) => {
      const n = await t.chain();
      const relay = await startRelay(
        t,
        n.relay,
        `rules:\n  - name: lost\n    input: { interface: ${n.relayIn}, group: 239.1.1.1, port: 5001 }\n` +
          `    outputs:\n      - { egress: routed, address: 198.51.100.9, port: 6000 }\n` +
          `      - { interface: ${n.relayOut}, group: 239.9.9.1, port: 6001 }\n`,
      );
      await sleep(300);
      await runGen(t, n.gen, {
        group: "239.1.1.1",
        port: 5001,
        count: 1200,
        rate: 2000,
        iface: n.genIf,
        runId: 90,
      });
      await sleep(2_000); // the once-a-second look
      const stats = await t.run(n.relay, selfCommand(["stats", "--once", "--api", API]));
      await relay.stop();
      const failing = relay.log.filter((l) => l.includes('"output failing"'));
      assert.equal(failing.length, 1, relay.log.join("\n"));
      const line = JSON.parse(failing[0]);
      assert.equal(line.level, "warn");
      assert.equal(line.rule, "lost");
      assert.equal(line.output, "routed * 198.51.100.9:6000");
      assert.equal(line.errno, "ENETUNREACH");
      // Told while it happened (the first second that saw refusals), not after the fact.
      assert.ok(line.refused > 0 && line.refused_total <= 1200, failing[0]);
      // The table shows the routed output's 1,200 errors; the l2 output none.
      assert.match(stats.stdout, /routed \* 198\.51\.100\.9:6000\s+0\s.*\s1200$/m, stats.stdout);
      assert.match(stats.stdout, /239\.9\.9\.1:6001\s+1200\s.*\s0$/m, stats.stdout);
    });
  },
);

rootTest(
  "operator: while a SIGHUP reload is being applied (held 3 s), an API change that may wait 1 s is refused 503 queue_timeout and never comes into force, in the running config or the file; the reload's own change is in force",
  async () => {
    await withTopology(async (t) => {
      const n = await t.chain();
      const relay = await faultyRelay(t, n);
      const fault = await apiSend(t, n.relay, "POST", "/api/v1/debug/fault", {
        worker: 0,
        kind: "slow_apply",
        ms: 3000,
      });
      assert.equal(fault.status, 200, fault.text);
      // The operator edits the file and reloads: the reload's plan is held 3 s before delivery.
      const edited = `rules:\n${ruleYaml(n.relayIn, n.relayOut)}${
        ruleYaml(n.relayIn, n.relayOut, "fromfile", 5020)
      }`;
      Deno.writeTextFileSync(relay.configPath, edited);
      relay.process.kill("SIGHUP");
      await sleep(300);
      const said = await apiSend(
        t,
        n.relay,
        "POST",
        "/api/v1/rules",
        {
          name: "said",
          input: { interface: n.relayIn, group: "239.1.1.9", port: 5021 },
          outputs: [{ interface: n.relayOut, group: "239.9.9.9", port: 6021 }],
        },
        6,
        { prefer: "wait=1" },
      );
      assert.equal(said.status, 503, said.text);
      assert.match(said.text, /"code":"queue_timeout"/);
      // Once the reload is through: its rule runs, the refused one does not, anywhere.
      const names = await waitFor("the reload applied", 10_000, async () => {
        const list = (await apiGet<{ name: string }[]>(t, n.relay, "/api/v1/rules")).map((r) =>
          r.name
        );
        return list.includes("fromfile") ? list : undefined;
      });
      await sleep(1_500); // anything queued behind the reload has had its turn
      const after = (await apiGet<{ name: string }[]>(t, n.relay, "/api/v1/rules")).map((r) =>
        r.name
      );
      assert.deepEqual(after.toSorted(), ["a", "fromfile"], JSON.stringify(names));
      const file = Deno.readTextFileSync(relay.configPath);
      assert.ok(file.includes("fromfile") && !file.includes("said"), file);
      await relay.stop();
      assert.ok(
        !relay.log.some((l) => l.includes('"added":["said"]')),
        "the refused change was never applied",
      );
    });
  },
);

rootTest(
  "operator: a change whose client stopped waiting is never applied: behind a slow change, a client with a 1 s wait gives up and its rule never comes into force (503 queue_timeout to one still there); a patient one is applied; a retried add is idempotent",
  async () => {
    await withTopology(async (t) => {
      const n = await t.chain();
      const relay = await faultyRelay(t, n);
      const rule = (name: string, port: number) => ({
        name,
        input: { interface: n.relayIn, group: "239.1.1.9", port },
        outputs: [{ interface: n.relayOut, group: "239.9.9.9", port: port + 1000 }],
      });
      // The next change takes 3 s (its plan is held before delivery; every worker stays healthy).
      const fault = await apiSend(t, n.relay, "POST", "/api/v1/debug/fault", {
        worker: 0,
        kind: "slow_apply",
        ms: 3000,
      });
      assert.equal(fault.status, 200, fault.text);
      const slow = apiSend(t, n.relay, "POST", "/api/v1/rules", rule("slow", 5010));
      await sleep(200);
      // A client that waits 1 s and says so, and one that just gives up after 1.5 s (curl).
      const wait1 = { prefer: "wait=1" };
      const said = apiSend(t, n.relay, "POST", "/api/v1/rules", rule("said", 5011), 6, wait1);
      const gone = apiSend(t, n.relay, "POST", "/api/v1/rules", rule("gone", 5012), 1.5, wait1);
      const patient = apiSend(t, n.relay, "POST", "/api/v1/rules", rule("patient", 5013));
      assert.equal((await slow).status, 201);
      const saidAnswer = await said;
      assert.equal(saidAnswer.status, 503, saidAnswer.text);
      assert.match(saidAnswer.text, /"code":"queue_timeout"/);
      assert.equal((await gone).status, 0, "curl gave up (no answer)");
      assert.equal((await patient).status, 201, "no Prefer: 10 s, its turn came in time");
      await sleep(500);
      const names = (await apiGet<{ name: string }[]>(t, n.relay, "/api/v1/rules")).map((r) =>
        r.name
      );
      assert.deepEqual(names.toSorted(), ["a", "patient", "slow"], "said and gone never applied");
      // The client that gave up retries: an add is idempotent, so a retry after an applied one is safe.
      const retry = await apiSend(t, n.relay, "POST", "/api/v1/rules", rule("patient", 5013));
      assert.equal(retry.status, 200, retry.text);
      await relay.stop();
      const refused = relay.log.filter((l) => l.includes("its client stopped waiting"));
      assert.equal(refused.length, 2, relay.log.join("\n"));
      assert.ok(
        !relay.log.some((l) => l.includes('"added":["said"]') || l.includes('"added":["gone"]')),
      );
    });
  },
);
