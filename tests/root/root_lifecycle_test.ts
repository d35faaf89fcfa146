/**
 * The data plane's lifecycle, tried as an operator would: a large change
 * into an empty relay, worker threads frozen inside native code again and
 * again, a worker dying during an apply, TX rings re-created under traffic,
 * failed applies, and many groups on one input.
 */
import assert from "node:assert/strict";
import { selfCommand } from "../../src/runtime.ts";
import {
  type ChainNames,
  runCommand,
  type Topology,
  withTopology,
} from "../../src/tools/topology.ts";
import { rootTest } from "../helpers/netns.ts";
import { baseStream, oneRuleYaml, runGen, sleep, startRelay, startSink } from "../helpers/relay.ts";

const API = "http://127.0.0.1:8787";
/** A parsed JSON answer, read field by field by the assertions. */
// deno-lint-ignore no-explicit-any
type Json = any;

async function api(
  t: Topology,
  ns: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: Json }> {
  const args = [
    "curl",
    "-s",
    "-m",
    "20",
    "-o",
    "/dev/stdout",
    "-w",
    "\n%{http_code}",
    "-X",
    method,
  ];
  let file: string | null = null;
  if (body !== undefined) {
    // Large bodies go through a file: argv has a size limit.
    file = Deno.makeTempFileSync({ prefix: "mcr-body-" });
    Deno.writeTextFileSync(file, JSON.stringify(body));
    args.push("-H", "content-type: application/json", "--data-binary", `@${file}`);
  }
  const r = await t.run(ns, [...args, `${API}${path}`], 30_000);
  if (file) Deno.removeSync(file);
  const lines = r.stdout.trimEnd().split("\n");
  const status = Number(lines.pop());
  const text = lines.join("\n");
  let json: Json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch { /* not JSON */ }
  return { status, json };
}

/** One more veth link between two namespaces of the chain, with an address at each end. */
async function extraLink(
  t: Topology,
  a: { ns: string; cidr: string },
  b: { ns: string; cidr: string },
  index: number,
): Promise<[string, string]> {
  const ifA = `${t.prefix}v${index}`;
  const ifB = `${t.prefix}v${index + 1}`;
  await t.addVeth(a.ns, ifA, b.ns, ifB);
  await t.addAddress(a.ns, ifA, a.cidr);
  await t.addAddress(b.ns, ifB, b.cidr);
  return [ifA, ifB];
}

/** A second input link gen <-> relay (10.0.2.0/24), for rules on two inputs. */
async function secondInput(
  t: Topology,
  n: ChainNames,
): Promise<{ genIf: string; relayIn: string }> {
  const [genIf, relayIn] = await extraLink(t, { ns: n.gen, cidr: "10.0.2.1/24" }, {
    ns: n.relay,
    cidr: "10.0.2.2/24",
  }, 4);
  await t.setOffload(n.gen, genIf, { tx: false });
  return { genIf, relayIn };
}

/** A second output link relay <-> sink (10.0.3.0/24). */
async function secondOutput(
  t: Topology,
  n: ChainNames,
): Promise<{ relayOut: string; sinkIf: string }> {
  const [relayOut, sinkIf] = await extraLink(t, { ns: n.relay, cidr: "10.0.3.1/24" }, {
    ns: n.sink,
    cidr: "10.0.3.2/24",
  }, 6);
  return { relayOut, sinkIf };
}

function rule(
  name: string,
  input: string,
  group: string,
  port: number,
  output: string,
  outGroup: string,
  outPort: number,
) {
  return {
    name,
    input: { interface: input, group, port },
    outputs: [{ interface: output, group: outGroup, port: outPort }],
  };
}

rootTest(
  "root: one PUT of 20 rules on two inputs into a relay with no rules: it stays up, no worker is restarted, all 20 forward",
  async () => {
    await withTopology(async (t) => {
      const n = await t.chain();
      const in2 = await secondInput(t, n);
      const relay = await startRelay(t, n.relay, "rules: []\n");
      const rules = [];
      for (let i = 0; i < 10; i++) {
        rules.push(
          rule(
            `a${i}`,
            n.relayIn,
            `239.1.1.${i + 1}`,
            5001 + i,
            n.relayOut,
            `239.9.9.${i + 1}`,
            6001 + i,
          ),
        );
        rules.push(
          rule(
            `b${i}`,
            in2.relayIn,
            `239.1.2.${i + 1}`,
            5101 + i,
            n.relayOut,
            `239.9.10.${i + 1}`,
            6101 + i,
          ),
        );
      }
      const put = await api(t, n.relay, "PUT", "/api/v1/config", { rules });
      assert.equal(put.status, 200, JSON.stringify(put.json));
      // The first and last rule of each input are scored at a receiver; every rule by its counters.
      const sinks = [
        startSink(t, n.sink, {
          group: "239.9.9.1",
          port: 6001,
          iface: n.sinkIf,
          runId: 71,
          idleMs: 1500,
        }),
        startSink(t, n.sink, {
          group: "239.9.10.10",
          port: 6110,
          iface: n.sinkIf,
          runId: 72,
          idleMs: 1500,
        }),
      ];
      await sleep(300);
      for (let i = 0; i < 10; i++) {
        await Promise.all([
          runGen(t, n.gen, {
            group: `239.1.1.${i + 1}`,
            port: 5001 + i,
            count: 200,
            rate: 4000,
            iface: n.genIf,
            runId: i === 0 ? 71 : 90 + i,
          }),
          runGen(t, n.gen, {
            group: `239.1.2.${i + 1}`,
            port: 5101 + i,
            count: 200,
            rate: 4000,
            iface: in2.genIf,
            runId: i === 9 ? 72 : 80 + i,
          }),
        ]);
      }
      const got = await Promise.all(sinks.map((s) => s.result));
      const stats = (await api(t, n.relay, "GET", "/api/v1/stats")).json;
      const { code } = await relay.stop();
      assert.equal(code, 0, "the relay stayed up and stopped cleanly");
      for (const g of got) assert.equal(g.unique, 200, "every datagram arrived at the receiver");
      for (const r of stats.rules) {
        assert.equal(r.counters.packets, 200, `rule ${r.name} forwarded all of its stream`);
      }
      assert.deepEqual(
        stats.workers.map((w: { restarts: number }) => w.restarts),
        [0],
        "no watchdog false positive",
      );
    });
  },
);

rootTest(
  "root: a worker frozen inside native code for 1.5 s, ten times: the process never dies, forwarding and the API resume, nothing is freed under the frozen thread",
  async () => {
    await withTopology(async (t) => {
      const n = await t.chain();
      const relay = await startRelay(
        t,
        n.relay,
        oneRuleYaml(n.relayIn, n.relayOut),
        [],
        { MCR_FAULT_INJECTION: "1" },
      );
      const rounds = 10;
      const rate = 1000;
      const count = rate * (rounds * 4 + 6);
      const { sink, gen } = await baseStream(t, n, {
        count,
        rate,
        runId: 73,
        idleMs: 3000,
        maxSeconds: 120,
      });
      await sleep(1000);
      let slowest = 0;
      for (let i = 0; i < rounds; i++) {
        const f = await api(t, n.relay, "POST", "/api/v1/debug/fault", {
          worker: 0,
          kind: "stall",
          ms: 1500,
        });
        assert.equal(f.status, 200, JSON.stringify(f.json));
        // The API answers while the thread is frozen (and while it is fenced).
        for (let k = 0; k < 4; k++) {
          const t0 = Date.now();
          const s = await api(t, n.relay, "GET", "/api/v1/workers");
          slowest = Math.max(slowest, Date.now() - t0);
          assert.equal(s.status, 200);
          await sleep(500);
        }
        await sleep(1000);
        const w = (await api(t, n.relay, "GET", "/api/v1/workers")).json[0];
        assert.equal(w.alive, true, `round ${i}: a worker is running`);
        assert.ok(
          w.heartbeat_age_ms < 1000,
          `round ${i}: and making progress (${w.heartbeat_age_ms} ms)`,
        );
      }
      await gen;
      const got = await sink.result;
      const res = (await api(t, n.relay, "GET", "/api/v1/resources")).json;
      const stats = (await api(t, n.relay, "GET", "/api/v1/stats")).json;
      const { code } = await relay.stop();
      assert.equal(code, 0, "the relay never died");
      assert.equal(
        stats.workers[0].restarts,
        rounds,
        "each freeze was detected and the worker replaced",
      );
      assert.equal(res.waiters.freedInUse, 0, "no waiter was ever freed with a thread inside it");
      assert.ok(
        res.waiters.deferred >= rounds,
        `each frozen thread's waiter was freed by that thread as it left (${res.waiters.deferred})`,
      );
      assert.deepEqual(res.stuck_threads, [], "no thread is left inside native code");
      assert.ok(
        got.max_seq >= count - 10,
        `forwarding resumed after the last freeze: ${JSON.stringify(got)}`,
      );
      // What a frozen worker held in its ring is lost (the ring is fenced); the rest arrives.
      assert.ok(got.unique >= count * 0.5, `delivered ${got.unique} of ${count}`);
      assert.equal(got.duplicates, 0);
      console.log(
        `freeze x${rounds}: delivered ${got.unique}/${count}, slowest API answer ${slowest} ms, waiters freed late ${res.waiters.deferred}`,
      );
    });
  },
  { timeoutMs: 240_000 },
);

rootTest(
  "root: a worker dying during an apply: the apply completes or rolls back, and the next changes are served",
  async () => {
    await withTopology(async (t) => {
      const n = await t.chain();
      const base = rule("a", n.relayIn, "239.1.1.1", 5001, n.relayOut, "239.9.9.1", 6001);
      const relay = await startRelay(
        t,
        n.relay,
        oneRuleYaml(n.relayIn, n.relayOut),
        [],
        { MCR_FAULT_INJECTION: "1" },
      );
      for (let round = 0; round < 3; round++) {
        const before = (await api(t, n.relay, "GET", "/api/v1/config")).json;
        const extra = Array.from(
          { length: 5 },
          (_, i) =>
            rule(
              `x${round}_${i}`,
              n.relayIn,
              `239.1.3.${round * 10 + i + 1}`,
              5201 + i,
              n.relayOut,
              `239.9.11.${i + 1}`,
              6201 + i,
            ),
        );
        assert.equal(
          (await api(t, n.relay, "POST", "/api/v1/debug/fault", {
            worker: 0,
            kind: "stall",
            ms: 2000,
          })).status,
          200,
        );
        await sleep(150); // the worker is inside its next wait, frozen
        const put = await api(t, n.relay, "PUT", "/api/v1/config", {
          ...before,
          rules: [...before.rules, ...extra],
        });
        const after = (await api(t, n.relay, "GET", "/api/v1/config")).json;
        if (put.status === 200) {
          assert.equal(
            after.rules.length,
            before.rules.length + 5,
            "completed: all of it is in force",
          );
        } else {
          assert.equal(put.status, 503, JSON.stringify(put.json));
          assert.equal(put.json.code, "apply_failed");
          assert.deepEqual(after, before, "rolled back: nothing of it is in force");
        }
        // The next mutation is served, promptly.
        const t0 = Date.now();
        const add = await api(
          t,
          n.relay,
          "POST",
          "/api/v1/rules",
          rule(
            `y${round}`,
            n.relayIn,
            `239.1.4.${round + 1}`,
            5301,
            n.relayOut,
            `239.9.12.${round + 1}`,
            6301,
          ),
        );
        assert.equal(add.status, 201, JSON.stringify(add.json));
        assert.ok(Date.now() - t0 < 10_000, "not wedged");
      }
      // And the relay still forwards the first rule.
      const sink = startSink(t, n.sink, {
        group: "239.9.9.1",
        port: 6001,
        iface: n.sinkIf,
        runId: 74,
        idleMs: 1500,
      });
      await sleep(300);
      await runGen(t, n.gen, {
        group: base.input.group,
        port: 5001,
        count: 2000,
        rate: 2000,
        iface: n.genIf,
        runId: 74,
      });
      const got = await sink.result;
      await relay.stop();
      assert.equal(got.unique, 2000);
    });
  },
  { timeoutMs: 240_000 },
);

rootTest(
  "root: TX rings re-created under traffic (tx_frames down and up, output MTU 1500 -> 9000 -> 1500): delivery resumes, the other output loses nothing",
  async () => {
    await withTopology(async (t) => {
      const n = await t.chain();
      const out2 = await secondOutput(t, n);
      const cfg = (txFrames?: number) => ({
        ...(txFrames ? { ring: { tx_frames: txFrames } } : {}),
        rules: [
          rule("a", n.relayIn, "239.1.1.1", 5001, n.relayOut, "239.9.9.1", 6001),
          rule("b", n.relayIn, "239.1.1.2", 5002, out2.relayOut, "239.9.9.2", 6002),
        ],
      });
      const relay = await startRelay(t, n.relay, "rules: []\n");
      assert.equal((await api(t, n.relay, "PUT", "/api/v1/config", cfg())).status, 200);
      const rate = 2000;
      const count = 14 * rate;
      const sinks = [
        startSink(t, n.sink, {
          group: "239.9.9.1",
          port: 6001,
          iface: n.sinkIf,
          runId: 75,
          idleMs: 2500,
        }),
        startSink(t, n.sink, {
          group: "239.9.9.2",
          port: 6002,
          iface: out2.sinkIf,
          runId: 76,
          idleMs: 2500,
        }),
      ];
      await sleep(300);
      const gens = [
        runGen(t, n.gen, {
          group: "239.1.1.1",
          port: 5001,
          count,
          rate,
          iface: n.genIf,
          runId: 75,
          size: 1000,
        }),
        runGen(t, n.gen, {
          group: "239.1.1.2",
          port: 5002,
          count,
          rate,
          iface: n.genIf,
          runId: 76,
          size: 1000,
        }),
      ];
      await sleep(1500);
      // tx_frames 4096 -> 64 -> 4096: both TX rings re-created (fd numbers may be reused).
      for (const frames of [64, 4096]) {
        const r = await api(t, n.relay, "PUT", "/api/v1/config", cfg(frames));
        assert.equal(r.status, 200, JSON.stringify(r.json));
        await sleep(1500);
      }
      const txEvents = (await api(t, n.relay, "GET", "/api/v1/stats")).json.totals.tx_sent;
      // MTU of output a's link (both ends, so the receiver takes what it is sent): 9000, then 1500.
      for (const mtu of [9000, 1500]) {
        await t.run(n.sink, ["ip", "link", "set", n.sinkIf, "mtu", String(mtu)]);
        await t.run(n.relay, ["ip", "link", "set", n.relayOut, "mtu", String(mtu)]);
        await sleep(2000);
      }
      await Promise.all(gens);
      const got = await Promise.all(sinks.map((s) => s.result));
      const stats = (await api(t, n.relay, "GET", "/api/v1/stats")).json;
      await relay.stop();
      const a = got[0], b = got[1];
      assert.ok(txEvents > 0);
      assert.ok(a.max_seq >= count - 10, "output a resumed after every re-creation");
      assert.ok(
        a.unique >= count - rate / 10,
        `output a lost ${count - a.unique} of ${count} across 4 re-creations`,
      );
      assert.equal(
        b.unique,
        count,
        `output b (its own link, untouched by the MTU changes) lost nothing: ${
          JSON.stringify(stats.totals)
        } ${JSON.stringify(b)}`,
      );
      assert.equal(a.duplicates + b.duplicates, 0);
      assert.equal(stats.totals.tx_errors, 0, "no frame was refused by the kernel");
      console.log(`TX re-creation: output a ${a.unique}/${count}, output b ${b.unique}/${count}`);
    });
  },
  { timeoutMs: 240_000 },
);

rootTest(
  "root: output MTU lowered below some datagrams: those are counted too big, the rest flow without a gap",
  async () => {
    await withTopology(async (t) => {
      const n = await t.chain();
      const relay = await startRelay(t, n.relay, "rules: []\n");
      const put = await api(t, n.relay, "PUT", "/api/v1/config", {
        rules: [
          rule("small", n.relayIn, "239.1.1.1", 5001, n.relayOut, "239.9.9.1", 6001),
          rule("big", n.relayIn, "239.1.1.2", 5002, n.relayOut, "239.9.9.2", 6002),
        ],
      });
      assert.equal(put.status, 200);
      const rate = 2000;
      const count = 8 * rate;
      const sink = startSink(t, n.sink, {
        group: "239.9.9.1",
        port: 6001,
        iface: n.sinkIf,
        runId: 77,
        idleMs: 2500,
      });
      await sleep(300);
      const gens = [
        runGen(t, n.gen, {
          group: "239.1.1.1",
          port: 5001,
          count,
          rate,
          iface: n.genIf,
          runId: 77,
          size: 1000,
        }),
        runGen(t, n.gen, {
          group: "239.1.1.2",
          port: 5002,
          count,
          rate,
          iface: n.genIf,
          runId: 78,
          size: 1400,
        }),
      ];
      await sleep(2000);
      await t.run(n.relay, ["ip", "link", "set", n.relayOut, "mtu", "1200"]);
      await Promise.all(gens);
      const got = await sink.result;
      const stats = (await api(t, n.relay, "GET", "/api/v1/stats")).json;
      await relay.stop();
      assert.equal(
        got.unique,
        count,
        `every datagram that fits arrived: ${JSON.stringify(got)} ${JSON.stringify(stats.totals)}`,
      );
      assert.equal(got.reordered ?? 0, 0);
      const big = stats.rules.find((r: { name: string }) => r.name === "big");
      assert.ok(
        big.outputs[0].counters.too_big > count / 2,
        `too big copies counted: ${big.outputs[0].counters.too_big}`,
      );
    });
  },
);

rootTest(
  "root: failed applies (too many rules, a worker failing mid-apply, ring memory over the limit) leave slots, memberships and rings exactly as before",
  async () => {
    await withTopology(async (t) => {
      const n = await t.chain();
      const relay = await startRelay(
        t,
        n.relay,
        oneRuleYaml(n.relayIn, n.relayOut),
        [],
        { MCR_FAULT_INJECTION: "1" },
      );
      const snapshot = async () => {
        const r = (await api(t, n.relay, "GET", "/api/v1/resources")).json;
        const igmp = (await t.run(n.relay, ["cat", "/proc/net/igmp"])).stdout;
        return {
          slots: r.slots,
          memberships: r.memberships,
          rings: r.workers.map((w: { rings: unknown }) => w.rings),
          igmp,
        };
      };
      const before = await snapshot();
      const config = (await api(t, n.relay, "GET", "/api/v1/config")).json;
      const many = (k: number, prefix: string) =>
        Array.from(
          { length: k },
          (_, i) =>
            rule(
              `${prefix}${i}`,
              n.relayIn,
              `239.${(i >> 8) + 2}.${i & 255}.1`,
              5000 + (i % 1000),
              n.relayOut,
              "239.9.9.9",
              7000,
            ),
        );

      // 1. A file with more rules than there are counter slots: `config check`
      // refuses it, as does a reload (SIGHUP); nothing is touched.
      const yaml = Deno.readTextFileSync(relay.configPath);
      const big = yaml +
        many(16384, "m").map((r) =>
          `  - { name: ${r.name}, input: { interface: ${r.input.interface}, group: ${r.input.group}, port: ${r.input.port} }, ` +
          `outputs: [{ interface: ${n.relayOut}, group: 239.9.9.9, port: 7000 }] }\n`
        ).join("");
      Deno.writeTextFileSync(relay.configPath, big);
      const check = await runCommand(selfCommand(["config", "check", relay.configPath]));
      assert.equal(check.code, 1, "config check refuses what the relay could not apply");
      assert.match(check.stdout + check.stderr, /16384/);
      relay.process.kill("SIGHUP");
      for (let i = 0; i < 100 && !relay.log.some((l) => l.includes("reload failed")); i++) {
        await sleep(200);
      }
      Deno.writeTextFileSync(relay.configPath, yaml);
      assert.ok(
        relay.log.some((l) => l.includes("reload failed")),
        `the reload was refused: ${relay.log.slice(-3).join("\n")}`,
      );
      assert.deepEqual(await snapshot(), before);

      // 2. The worker fails after opening the new rings and joining groups: all of it is undone.
      assert.equal(
        (await api(t, n.relay, "POST", "/api/v1/debug/fault", { worker: 0, kind: "fail_apply" }))
          .status,
        200,
      );
      const failed = await api(t, n.relay, "PUT", "/api/v1/config", {
        ...config,
        ring: { tx_frames: 8192 },
        rules: [...config.rules, ...many(30, "f")],
      });
      assert.equal(failed.status, 503, JSON.stringify(failed.json));
      assert.equal(failed.json.code, "apply_failed");
      assert.deepEqual(
        await snapshot(),
        before,
        "slots, memberships (and /proc/net/igmp) and rings as before",
      );
      assert.deepEqual((await api(t, n.relay, "GET", "/api/v1/config")).json, config);

      // 3. Ring memory over the per-worker limit: refused before any side effect.
      const huge = await api(t, n.relay, "PUT", "/api/v1/config", {
        ...config,
        rules: [
          ...config.rules.map((r: object) => ({ ...r, rate_pps: 10_000_000 })),
          ...many(40, "h").map((r) => ({ ...r, input: { ...r.input, interface: n.relayIn } })),
        ],
        ring: { block_count: 20000 }, // 1.25 GiB of RX ring with 64 KiB blocks (frames), 2.5 GiB with 128 KiB (blocks)
      });
      assert.equal(huge.status, 409, JSON.stringify(huge.json));
      assert.equal(huge.json.code, "resource_limit");
      assert.deepEqual(await snapshot(), before);

      // And the relay still takes a good change.
      const ok = await api(t, n.relay, "PUT", "/api/v1/config", {
        ...config,
        rules: [...config.rules, ...many(30, "g")],
      });
      assert.equal(ok.status, 200, JSON.stringify(ok.json));
      const after = await snapshot();
      assert.equal(after.slots.rules, 31);
      await relay.stop();
    });
  },
);

rootTest(
  "root: 200 groups on one input with default sysctls: all joined (as /proc/net/igmp shows) and all forwarding",
  async () => {
    await withTopology(async (t) => {
      const n = await t.chain();
      const groups = 200;
      const rules = Array.from(
        { length: groups },
        (_, i) =>
          rule(
            `g${i}`,
            n.relayIn,
            `239.5.${i >> 8}.${(i & 255) + 1}`,
            5000,
            n.relayOut,
            `239.6.${i >> 8}.${(i & 255) + 1}`,
            6000,
          ),
      );
      const sysctl = (await t.run(n.relay, ["sysctl", "-n", "net.ipv4.igmp_max_memberships"]))
        .stdout.trim();
      assert.equal(sysctl, "20", "the namespace has the default per-socket limit");
      const relay = await startRelay(t, n.relay, "rules: []\n");
      const put = await api(t, n.relay, "PUT", "/api/v1/config", { rules });
      assert.equal(put.status, 200, JSON.stringify(put.json));
      const igmp = (await t.run(n.relay, ["cat", "/proc/net/igmp"])).stdout;
      const section = igmp.split(/\n(?=\d+\s)/).find((s) => s.includes(n.relayIn)) ?? "";
      // /proc/net/igmp lists each group in hex (host byte order of the word as read).
      const joined = rules.filter((r) => {
        const [a, b, c, d] = r.input.group.split(".").map(Number);
        const hex = ((d << 24) | (c << 16) | (b << 8) | a) >>> 0;
        return section.toUpperCase().includes(hex.toString(16).toUpperCase().padStart(8, "0"));
      });
      assert.equal(joined.length, groups, "every group is joined on the input");
      const res = (await api(t, n.relay, "GET", "/api/v1/resources")).json;
      const pool = res.memberships.find((m: { interface: string }) => m.interface === n.relayIn);
      assert.ok(pool.sockets >= 10, `spread over ${pool.sockets} membership sockets`);
      // Three datagrams to every group, from one sender.
      const script =
        `for i in $(seq 0 ${groups - 1}); do g="239.5.$((i >> 8)).$(((i & 255) + 1))"; ` +
        `for k in 1 2 3; do printf x | socat -u - UDP4-DATAGRAM:$g:5000,ip-multicast-if=10.0.0.1,ip-multicast-ttl=4; done; done`;
      const sent = await t.run(n.gen, ["bash", "-c", script], 120_000);
      assert.equal(sent.code, 0, sent.stderr);
      await sleep(500);
      const stats = (await api(t, n.relay, "GET", "/api/v1/stats")).json;
      await relay.stop();
      const forwarding = stats.rules.filter((r: { counters: { packets: number } }) =>
        r.counters.packets === 3
      );
      assert.equal(forwarding.length, groups, "every rule relayed its three datagrams");
    });
  },
  { timeoutMs: 240_000 },
);

rootTest(
  "root: ring.rx_mode and ring.busy_poll_us changed over the API are in force: the RX ring is re-created in the other mode without losing a packet",
  async () => {
    await withTopology(async (t) => {
      const n = await t.chain();
      const relay = await startRelay(t, n.relay, oneRuleYaml(n.relayIn, n.relayOut));
      const config = (await api(t, n.relay, "GET", "/api/v1/config")).json;
      const rxBytes = async () => {
        const r = (await api(t, n.relay, "GET", "/api/v1/resources")).json;
        return r.workers[0].rings.filter((x: { kind: string }) => x.kind === "rx").map((
          x: { bytes: number },
        ) => x.bytes);
      };
      const framesBytes = await rxBytes();
      const rate = 2000;
      const count = 8 * rate;
      const sink = startSink(t, n.sink, {
        group: "239.9.9.1",
        port: 6001,
        iface: n.sinkIf,
        runId: 79,
        idleMs: 2500,
      });
      await sleep(300);
      const gen = runGen(t, n.gen, {
        group: "239.1.1.1",
        port: 5001,
        count,
        rate,
        iface: n.genIf,
        runId: 79,
      });
      await sleep(1500);
      const toBlocks = await api(t, n.relay, "PUT", "/api/v1/config", {
        ...config,
        ring: { rx_mode: "blocks", busy_poll_us: 200 },
      });
      assert.equal(toBlocks.status, 200, JSON.stringify(toBlocks.json));
      const blocksBytes = await rxBytes();
      assert.notDeepEqual(blocksBytes, framesBytes, "a blocks ring replaced the frames ring");
      await sleep(1500);
      const back = await api(t, n.relay, "PUT", "/api/v1/config", config);
      assert.equal(back.status, 200);
      assert.deepEqual(await rxBytes(), framesBytes, "and a frames ring again");
      await gen;
      const got = await sink.result;
      await relay.stop();
      // The new ring succeeds the old one (src/dataplane/succession.ts): nothing lost, twice or out of order.
      assert.equal(got.unique, count, `delivered ${got.unique} of ${count}`);
      assert.equal(got.duplicates, 0);
      assert.equal(got.reordered, 0);
    });
  },
);

rootTest(
  "root: workers 1 -> 2 -> 3 -> 1 at runtime under a 20k pps stream: every packet delivered once, in order per flow, none held",
  async () => {
    await withTopology(async (t) => {
      const n = await t.chain();
      const flows = [1, 2, 3, 4];
      const yaml = "workers: 1\nrules:\n" +
        flows.map((i) =>
          `  - name: f${i}\n    input: { interface: ${n.relayIn}, group: 239.1.1.${i}, port: ${
            5000 + i
          } }\n` +
          `    outputs:\n      - { interface: ${n.relayOut}, group: 239.9.9.${i}, port: ${
            6000 + i
          } }\n`
        ).join("");
      const relay = await startRelay(t, n.relay, yaml);
      const config = (await api(t, n.relay, "GET", "/api/v1/config")).json;
      const rate = 5000; // per flow: 20,000 pps in all
      const count = 9 * rate;
      const sinks = flows.map((i) =>
        startSink(t, n.sink, {
          group: `239.9.9.${i}`,
          port: 6000 + i,
          iface: n.sinkIf,
          runId: 90 + i,
          idleMs: 3000,
        })
      );
      await sleep(300);
      const gens = flows.map((i) =>
        runGen(t, n.gen, {
          group: `239.1.1.${i}`,
          port: 5000 + i,
          count,
          rate,
          iface: n.genIf,
          runId: 90 + i,
        })
      );
      const seen: number[] = [];
      const steps = (Deno.env.get("MCR_TEST_WORKER_STEPS") ?? "2,3,1").split(",").map(Number);
      for (const workers of steps) {
        await sleep(2000);
        const r = await api(t, n.relay, "PUT", "/api/v1/config", { ...config, workers });
        assert.equal(r.status, 200, JSON.stringify(r.json));
        const listed = (await api(t, n.relay, "GET", "/api/v1/workers")).json;
        assert.equal(listed.length, workers, "the API lists the workers in force");
        seen.push(listed.length);
        const held = (await api(t, n.relay, "GET", "/api/v1/resources")).json;
        for (const w of held.workers) {
          assert.equal(
            w.rings.filter((x: { kind: string }) => x.kind === "rx").length,
            1,
            "one RX ring per worker once the change is acknowledged",
          );
        }
      }
      await Promise.all(gens);
      const results = await Promise.all(sinks.map((s) => s.result));
      const { stats } = await relay.stop();
      assert.deepEqual(seen, steps);
      if (Deno.env.get("MCR_TEST_DEBUG")) {
        console.log(
          JSON.stringify(results),
          relay.log.filter((l) => /succession|late|worker/.test(l)).join("\n"),
        );
      }
      for (const [i, got] of results.entries()) {
        assert.equal(got.unique, count, `flow ${i + 1}: every packet delivered`);
        assert.equal(got.duplicates, 0, `flow ${i + 1}: none twice`);
        assert.equal(got.reordered, 0, `flow ${i + 1}: in order`);
        // A packet held in a ring turns up seconds later; a succession holds arrivals for tens of ms.
        assert.ok(
          got.latency && got.latency.max_us < 500_000,
          `flow ${i + 1}: max latency ${got.latency?.max_us} µs`,
        );
      }
      assert.ok(stats);
      assert.equal(
        stats.totals.tx_sent,
        flows.length * count,
        "each packet relayed by exactly one worker",
      );
      assert.ok(!relay.log.some((l) => l.includes("late")), "every cut was taken in time");
    });
  },
  { timeoutMs: 120_000 },
);

rootTest(
  "root: a worker frozen inside native code while the worker count changes: the change completes or rolls back, the pool matches the config, and the next change is served",
  async () => {
    await withTopology(async (t) => {
      const n = await t.chain();
      const relay = await startRelay(
        t,
        n.relay,
        "workers: 1\n" + oneRuleYaml(n.relayIn, n.relayOut),
        [],
        {
          MCR_FAULT_INJECTION: "1",
        },
      );
      const config = (await api(t, n.relay, "GET", "/api/v1/config")).json;
      const stream = runGen(t, n.gen, {
        group: "239.1.1.1",
        port: 5001,
        count: 24_000,
        rate: 2000,
        iface: n.genIf,
        runId: 75,
      });
      // Grow while the staying worker is frozen; shrink while the leaving one is.
      for (const workers of [2, 1, 3, 1]) {
        const before = (await api(t, n.relay, "GET", "/api/v1/workers")).json.length;
        const frozen = workers > before ? 0 : before - 1;
        assert.equal(
          (await api(t, n.relay, "POST", "/api/v1/debug/fault", {
            worker: frozen,
            kind: "stall",
            ms: 1500,
          })).status,
          200,
        );
        await sleep(150);
        const put = await api(t, n.relay, "PUT", "/api/v1/config", { ...config, workers });
        assert.ok(
          put.status === 200 || put.status === 503,
          `${put.status} ${JSON.stringify(put.json)}`,
        );
        const inForce = (await api(t, n.relay, "GET", "/api/v1/config")).json.workers ?? 1;
        assert.equal(
          inForce,
          put.status === 200 ? workers : before,
          "completed, or rolled back to the count before",
        );
        assert.equal(
          (await api(t, n.relay, "GET", "/api/v1/workers")).json.length,
          inForce,
          "the pool is what the config says",
        );
        const t0 = Date.now();
        const logLevel = await api(t, n.relay, "PUT", "/api/v1/log-level", { level: "info" });
        assert.equal(logLevel.status, 200);
        assert.ok(Date.now() - t0 < 10_000, "not wedged");
        await sleep(1500);
      }
      await stream;
      // After the faults, a change and a stream that must arrive whole.
      assert.equal(
        (await api(t, n.relay, "PUT", "/api/v1/config", { ...config, workers: 2 })).status,
        200,
      );
      const sink = startSink(t, n.sink, {
        group: "239.9.9.1",
        port: 6001,
        iface: n.sinkIf,
        runId: 76,
        idleMs: 1500,
      });
      await sleep(300);
      await runGen(t, n.gen, {
        group: "239.1.1.1",
        port: 5001,
        count: 4000,
        rate: 4000,
        iface: n.genIf,
        runId: 76,
      });
      const got = await sink.result;
      const resources = (await api(t, n.relay, "GET", "/api/v1/resources")).json;
      await relay.stop();
      assert.equal(got.unique, 4000);
      assert.equal(got.duplicates, 0);
      assert.equal(got.reordered, 0);
      assert.equal(resources.workers.length, 2);
      for (const w of resources.workers) {
        assert.equal(
          w.rings.filter((x: { kind: string }) => x.kind === "rx").length,
          1,
          "no ring left over from the faults",
        );
      }
    });
  },
  { timeoutMs: 180_000 },
);

rootTest(
  "root: worker-count changes racing SIGHUPs and rule adds: every acknowledged change is in force, the pool matches the config, nothing wedges",
  async () => {
    await withTopology(async (t) => {
      const n = await t.chain();
      const relay = await startRelay(
        t,
        n.relay,
        "workers: 1\n" + oneRuleYaml(n.relayIn, n.relayOut),
      );
      const config = (await api(t, n.relay, "GET", "/api/v1/config")).json;
      const changes: Promise<{ status: number; json: Json }>[] = [];
      for (let i = 0; i < 6; i++) {
        changes.push(api(t, n.relay, "PUT", "/api/v1/config", { ...config, workers: 1 + (i % 3) }));
        relay.process.kill("SIGHUP");
        changes.push(
          api(
            t,
            n.relay,
            "POST",
            "/api/v1/rules",
            rule(
              `r${i}`,
              n.relayIn,
              `239.1.5.${i + 1}`,
              5400 + i,
              n.relayOut,
              `239.9.15.${i + 1}`,
              6400 + i,
            ),
          ),
        );
      }
      const results = await Promise.all(changes);
      for (const r of results) {
        assert.ok([200, 201, 409].includes(r.status), `${r.status} ${JSON.stringify(r.json)}`);
      }
      const inForce = (await api(t, n.relay, "GET", "/api/v1/config")).json;
      const workers = (await api(t, n.relay, "GET", "/api/v1/workers")).json;
      assert.equal(workers.length, inForce.workers ?? 1, "the pool is what the config says");
      // A rule add acknowledged 201 is in force unless a later whole-config PUT replaced the list.
      const last =
        (await api(t, n.relay, "PUT", "/api/v1/config", { ...inForce, workers: 2 })).status;
      assert.equal(last, 200, "not wedged: the next change is served");
      assert.equal((await api(t, n.relay, "GET", "/api/v1/workers")).json.length, 2);
      const sink = startSink(t, n.sink, {
        group: "239.9.9.1",
        port: 6001,
        iface: n.sinkIf,
        runId: 78,
        idleMs: 1500,
      });
      await sleep(300);
      await runGen(t, n.gen, {
        group: "239.1.1.1",
        port: 5001,
        count: 2000,
        rate: 2000,
        iface: n.genIf,
        runId: 78,
      });
      const got = await sink.result;
      const { code } = await relay.stop();
      assert.equal(code, 0);
      assert.equal(got.unique, 2000);
      assert.equal(got.duplicates, 0);
    });
  },
);
