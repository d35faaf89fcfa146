/**
 * Redundant feeds end to end: `mcr gen --leg` sends one stream on two links
 * (red and blue) into the relay, each leg with its own drop list or random
 * loss and delay (listed in its --json: the ground truth); the relay merges
 * them into one output, and a receiver behind it counts what came. The
 * output must be exactly the stream minus what BOTH legs lost, each datagram
 * once; the merge's own figures (lost on every leg, repaired per leg, late,
 * path differential) must agree with the drop lists exactly.
 */
import assert from "node:assert/strict";
import { selfCommand } from "../../src/runtime.ts";
import type { LegsNames, Topology } from "../../src/tools/topology.ts";
import { withTopology } from "../../src/tools/topology.ts";
import { MergesResponse } from "../../src/api/responses.ts";
import type { MergeReport } from "../../src/merge/merge_readout.ts";
import { rootTest } from "../helpers/netns.ts";
import { captureTimes, tsharkRtpPackets, tsharkRtpStreams } from "../helpers/tshark.ts";
import { sleep, startCapture, startRelay, startSink } from "../helpers/relay.ts";
import { apiGet, apiSend, putConfig } from "../helpers/routing.ts";

type Range = [number, number];

interface LegsResult {
  sent: number;
  legs: { sent: number; dropped: Range[]; dropped_count: number }[];
  signal?: { rtp?: { ssrc: number } };
}

/** Indexes in the ranges. */
function indexes(ranges: Range[]): Set<number> {
  const out = new Set<number>();
  for (const [a, b] of ranges) for (let k = a; k <= b; k++) out.add(k);
  return out;
}

function both(a: Range[], b: Range[]): number {
  const x = indexes(a);
  let n = 0;
  for (const k of indexes(b)) if (x.has(k)) n++;
  return n;
}

/** The two legs' --leg options: red 239.1.1.1, blue 239.2.1.1, port `port`. */
function legArgs(n: LegsNames, port: number): string[] {
  return ["--leg", `${n.genIf},239.1.1.1,${port}`, "--leg", `${n.genIf2},239.2.1.1,${port}`];
}

async function genLegs(t: Topology, n: LegsNames, args: string[]): Promise<LegsResult> {
  const r = await t.run(n.gen, selfCommand(["gen", "--ttl", "8", "--json", ...args]), 300_000);
  if (r.code !== 0) throw new Error(`mcr gen failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!);
}

/** A merge rule of the red and blue legs on `port`, out to 239.9.9.1:`outPort`. */
function mergeRule(n: LegsNames, name: string, port: number, outPort: number, merge: string) {
  return `  - name: ${name}\n    rate_pps: 10000\n    merge:\n` +
    `      legs:\n        - { interface: ${n.relayIn}, group: 239.1.1.1, port: ${port} }\n` +
    `        - { interface: ${n.relayIn2}, group: 239.2.1.1, port: ${port} }\n` +
    merge.split("\n").filter((l) => l !== "").map((l) => `      ${l}\n`).join("") +
    `    outputs: [{ interface: ${n.relayOut}, group: 239.9.9.1, port: ${outPort} }]\n`;
}

/** The numbered datagrams' sequence number: 8 bytes at offset 8 (src/tools/payload.ts). */
const NUMBERED_KEY = "key: { sequence: { offset: 8, width: 8 } }";

async function merges(t: Topology, ns: string, rule: string): Promise<MergeReport> {
  const body = await apiGet<unknown>(t, ns, `/api/v1/merges`);
  const list = MergesResponse.parse(body) as MergeReport[]; // the live answer fits its schema
  const m = list.find((x) => x.rule === rule);
  if (!m) throw new Error(`no merge ${rule}: ${JSON.stringify(list)}`);
  return m;
}

/** Waits until the merge has judged every number (its window closed and the idle judge ran). */
async function settled(t: Topology, ns: string, rule: string): Promise<MergeReport> {
  await sleep(2_500);
  return await merges(t, ns, rule);
}

rootTest(
  "merge: independent random loss (1 % red, 5 % blue), blue 30 ms behind: the output is the stream minus what both legs lost, each datagram once; lost, repaired and PD agree with the drop lists",
  async () => {
    await withTopology(async (t) => {
      const n = await t.legs();
      const relay = await startRelay(
        t,
        n.relay,
        `rules:\n${mergeRule(n, "feed", 5004, 6004, NUMBERED_KEY)}`,
      );
      const count = 60_000;
      const sink = startSink(t, n.sink, {
        group: "239.9.9.1",
        port: 6004,
        iface: n.sinkIf,
        runId: 41,
        idleMs: 2500,
      });
      await sleep(300);
      const g = await genLegs(t, n, [
        ...legArgs(n, 5004),
        "--count",
        String(count),
        "--rate",
        "6000",
        "--size",
        "200",
        "--run-id",
        "41",
        "--leg-loss",
        "0:1:11",
        "--leg-loss",
        "1:5:12",
        "--leg-delay",
        "1:30",
      ]);
      const got = await sink.result;
      const m = await settled(t, n.relay, "feed");
      await relay.stop();
      const [a, b] = g.legs;
      const lostBoth = both(a.dropped, b.dropped);
      assert.ok(a.dropped_count > 400 && b.dropped_count > 2500, JSON.stringify(g.legs));
      assert.ok(lostBoth > 5, `the drop lists overlap: ${lostBoth}`);
      assert.equal(got.unique, count - lostBoth, `output: ${JSON.stringify(got)}`);
      assert.equal(got.duplicates, 0);
      assert.equal(got.foreign, 0);
      assert.equal(m.figures.lost, lostBoth, JSON.stringify(m));
      assert.equal(m.figures.forwarded, count - lostBoth);
      assert.equal(m.legs[0].recovered, a.dropped_count - lostBoth);
      assert.equal(m.legs[1].recovered, b.dropped_count - lostBoth);
      assert.equal(m.figures.duplicates, a.sent + b.sent - (count - lostBoth));
      assert.equal(m.figures.late, 0);
      assert.equal(m.figures.rejected, 0);
      const pd = m.legs[1].pd_max_ms as number;
      assert.ok(pd > 25 && pd < 60, `blue's path differential ${pd} ms (30 ms sent)`);
      assert.equal(m.state, "critical", "numbers lost on both legs: unrecoverable");
    });
  },
);

rootTest(
  "merge: a pair on 2 workers (the merging worker owns the legs' rings), worker count changed 2 -> 1 -> 2 under traffic: every datagram once, exactly",
  async () => {
    await withTopology(async (t) => {
      const n = await t.legs();
      const relay = await startRelay(
        t,
        n.relay,
        `workers: 2\nrules:\n${mergeRule(n, "feed", 5004, 6004, NUMBERED_KEY)}`,
      );
      const count = 40_000;
      const sink = startSink(t, n.sink, {
        group: "239.9.9.1",
        port: 6004,
        iface: n.sinkIf,
        runId: 42,
        idleMs: 2500,
      });
      await sleep(300);
      const gen = genLegs(t, n, [
        ...legArgs(n, 5004),
        "--count",
        String(count),
        "--rate",
        "5000",
        "--size",
        "200",
        "--run-id",
        "42",
        "--leg-drop",
        "0:1000..1999,5000,7000..7010,30000..30999",
        "--leg-drop",
        "1:3000..3999,5001,20000..20500",
        "--leg-delay",
        "0:5",
      ]);
      await sleep(2_500);
      assert.equal(await putConfig(t, n.relay, (c) => c.workers = 1), 200);
      await sleep(2_000);
      assert.equal(await putConfig(t, n.relay, (c) => c.workers = 2), 200);
      const g = await gen;
      const got = await sink.result;
      const m = await settled(t, n.relay, "feed");
      await relay.stop();
      assert.equal(both(g.legs[0].dropped, g.legs[1].dropped), 0, "the drop lists are disjoint");
      assert.equal(got.unique, count, `output: ${JSON.stringify(got)}`);
      assert.equal(got.duplicates, 0);
      assert.equal(m.figures.lost, 0);
      assert.equal(m.figures.forwarded, count);
      assert.equal(m.legs[0].recovered, g.legs[0].dropped_count);
      assert.equal(m.legs[1].recovered, g.legs[1].dropped_count);
    });
  },
);

rootTest(
  "merge: RTP legs with disjoint losses: tshark finds the output complete (no loss); a sender restart (new SSRC and sequence) is followed with the first datagram that arrives once the old sequence stood still 20 ms (kernel receive times)",
  async () => {
    await withTopology(async (t) => {
      const n = await t.legs();
      const relay = await startRelay(
        t,
        n.relay,
        `rules:\n${mergeRule(n, "feed", 5004, 6004, "")}`,
      );
      const pcap = `/tmp/mcr-merge-${Deno.pid}.pcap`;
      const cap = await startCapture(t, n.sink, [
        "tcpdump",
        "-i",
        n.sinkIf,
        "-w",
        pcap,
        "udp port 6004",
      ]);
      // The red leg as the relay receives it: the times the relay judges by.
      const redPcap = `/tmp/mcr-merge-red-${Deno.pid}.pcap`;
      const redCap = await startCapture(t, n.relay, [
        "tcpdump",
        "-i",
        n.relayIn,
        "-w",
        redPcap,
        "udp port 5004",
      ]);
      try {
        const count = 20_000;
        const g = await genLegs(t, n, [
          ...legArgs(n, 5004),
          "--signal",
          "rtp",
          "--count",
          String(count),
          "--rate",
          "4000",
          "--size",
          "400",
          "--fault",
          "ssrc=12000",
          "--leg-drop",
          "0:500..1499,4000,4002,4004,15000..15999",
          "--leg-drop",
          "1:2000..2999,4001,4003,11990..12010",
          "--leg-delay",
          "1:20",
        ]);
        await sleep(1_500);
        for (const c of [cap, redCap]) {
          c.kill("SIGTERM");
          await c.status;
        }
        const m = await settled(t, n.relay, "feed");
        const streams = await tsharkRtpStreams(t, n.sink, pcap, 6004);
        assert.equal(streams.length, 2, `two SSRCs: ${JSON.stringify(streams)}`);
        const first = streams.find((s) => s.ssrc === g.signal!.rtp!.ssrc)!;
        const second = streams.find((s) => s !== first)!;
        assert.equal(first.packets, 12_000, first.row);
        assert.equal(first.lost, 0, first.row);
        assert.equal(second.lost, 0, second.row);
        // The target for a restart: followed within 50 datagrams or 100 ms (400 here).
        const missed = count - 12_000 - second.packets;
        assert.ok(missed <= 400, `resumed after ${missed} datagrams: ${second.row}`);
        // Precisely (RESYNC_STALL_US): the red leg leads (blue is 20 ms late and brings only
        // copies), so the old sequence last moved with red's last old datagram; the relay
        // takes the first new datagram that reaches it 20 ms or more after that, judged by
        // the kernel's receive times, which the capture on the same link shares. A sender
        // that stalls or bursts changes how many datagrams that is, not which one.
        const red = await tsharkRtpPackets(t, n.relay, redPcap, 5004);
        const lastOld = red.filter((p) => p.ssrc === first.ssrc).at(-1)!;
        const fresh = red.filter((p) => p.ssrc === second.ssrc);
        const out = await tsharkRtpPackets(t, n.sink, pcap, 6004);
        const taken = out.find((p) => p.ssrc === second.ssrc)!;
        const k = fresh.findIndex((p) => p.seq === taken.seq);
        const after = (i: number) => ((fresh[i].time - lastOld.time) * 1e3).toFixed(3);
        const story = `followed with the new sequence's datagram ${k} (seq ${taken.seq}), ` +
          `${after(k)} ms after the old one last moved; the one before it at ${
            k > 0 ? after(k - 1) : "-"
          } ms`;
        assert.ok(k >= 1, `two consecutive datagrams prove a restart: ${story}`);
        // 0.5 ms: the relay's and the capture's copies of the kernel's time may differ that much.
        assert.ok(fresh[k].time - lastOld.time >= 0.0195, story);
        assert.ok(k === 1 || fresh[k - 1].time - lastOld.time < 0.0205, story);
        assert.equal(m.figures.resyncs, 1);
        assert.equal(m.figures.lost, 0);
      } finally {
        await relay.stop();
        await Deno.remove(pcap).catch(() => {});
        await Deno.remove(redPcap).catch(() => {});
      }
    });
  },
);

rootTest(
  "merge: one leg down for 10 s and back: nothing lost; the leg is down once its last datagram is 500 ms old and up with the next (relay's own times), health WARNING while down and OK after, leg events sent",
  async () => {
    await withTopology(async (t) => {
      const n = await t.legs();
      const relay = await startRelay(
        t,
        n.relay,
        `rules:\n${mergeRule(n, "feed", 5004, 6004, NUMBERED_KEY)}`,
      );
      const events = t.spawn(n.relay, [
        "curl",
        "-sN",
        "--max-time",
        "19",
        "http://127.0.0.1:8787/api/v1/events",
      ], { stdout: "piped", stderr: "null" });
      const eventText = new Response(events.stdout).text();
      const sink = startSink(t, n.sink, {
        group: "239.9.9.1",
        port: 6004,
        iface: n.sinkIf,
        runId: 44,
        idleMs: 2500,
      });
      await sleep(300);
      const count = 14_000;
      const gen = genLegs(t, n, [
        ...legArgs(n, 5004),
        "--count",
        String(count),
        "--rate",
        "1000",
        "--size",
        "200",
        "--run-id",
        "44",
        "--leg-drop",
        "0:2000..11999",
      ]);
      const seen: { state: string; age: number | null; health: string }[] = [];
      const t0 = Date.now();
      while (Date.now() - t0 < 14_500) {
        const m = await merges(t, n.relay, "feed");
        const h = await t.run(n.relay, [
          "curl",
          "-s",
          "http://127.0.0.1:8787/health?rule=feed",
        ]);
        seen.push({
          state: m.legs[0].state,
          age: m.legs[0].last_packet_age_ms,
          health: JSON.parse(h.stdout).status,
        });
        await sleep(250);
      }
      await gen;
      const got = await sink.result;
      await relay.stop();
      const text = await eventText;
      assert.equal(got.unique, count, `output: ${JSON.stringify(got)}`);
      assert.equal(got.duplicates, 0);
      // The relay judges by its own receive times: down exactly when the last datagram is >= 500 ms old.
      for (const s of seen) {
        if (s.age === null) continue;
        assert.equal(s.state, s.age >= 500 ? "down" : "up", JSON.stringify(s));
      }
      const down = seen.filter((s) => s.state === "down");
      // Each reading is two curl processes and a 250 ms sleep: about 30 in the outage when idle.
      assert.ok(down.length >= 20, `down for most of 10 s: ${down.length} readings`);
      // /health is read just after /api/v1/merges: away from the edges of the outage, both agree.
      for (const s of down.filter((s) => s.age! >= 700 && s.age! <= 9_000)) {
        assert.equal(s.health, "warning", JSON.stringify(s));
      }
      assert.equal(seen[seen.length - 1].state, "up");
      assert.equal(seen[seen.length - 1].health, "ok");
      assert.match(text, /"event":"leg_down","leg":0/);
      assert.match(text, /"event":"leg_up","leg":0/);
    });
  },
);

rootTest(
  "merge: blue 400 ms behind with the default 450 ms window: still exact; 600 ms behind: every blue copy counted late, none sent, health WARNING",
  async () => {
    await withTopology(async (t) => {
      const n = await t.legs();
      const relay = await startRelay(
        t,
        n.relay,
        `rules:\n${mergeRule(n, "near", 5006, 6006, NUMBERED_KEY)}${
          mergeRule(n, "far", 5007, 6007, NUMBERED_KEY)
        }`,
      );
      const count = 8_000;
      const run = async (port: number, runId: number, extra: string[]) => {
        const sink = startSink(t, n.sink, {
          group: "239.9.9.1",
          port: port + 1000,
          iface: n.sinkIf,
          runId,
          idleMs: 2500,
        });
        await sleep(300);
        const g = await genLegs(t, n, [
          ...legArgs(n, port),
          "--count",
          String(count),
          "--rate",
          "2000",
          "--size",
          "200",
          "--run-id",
          String(runId),
          ...extra,
        ]);
        return { g, got: await sink.result };
      };
      const near = await run(5006, 46, [
        "--leg-loss",
        "0:2:21",
        "--leg-loss",
        "1:2:22",
        "--leg-delay",
        "1:400",
      ]);
      const far = await run(5007, 47, ["--leg-delay", "1:600"]);
      const mNear = await settled(t, n.relay, "near");
      const mFar = await merges(t, n.relay, "far");
      const health = JSON.parse(
        (await t.run(n.relay, ["curl", "-s", "http://127.0.0.1:8787/health?rule=far"])).stdout,
      );
      await relay.stop();
      const lostBoth = both(near.g.legs[0].dropped, near.g.legs[1].dropped);
      assert.equal(near.got.unique, count - lostBoth, JSON.stringify(near.got));
      assert.equal(near.got.duplicates, 0);
      assert.equal(mNear.figures.lost, lostBoth);
      assert.equal(mNear.figures.late, 0);
      const pd = mNear.legs[1].pd_max_ms as number;
      assert.ok(pd >= 395 && pd < 440, `PD ${pd} ms`);
      assert.equal(far.got.unique, count);
      assert.equal(far.got.duplicates, 0);
      assert.equal(mFar.figures.late, far.g.legs[1].sent, JSON.stringify(mFar.figures));
      assert.equal(mFar.legs[1].first, 0);
      assert.equal(mFar.state, "warning", JSON.stringify(mFar.reasons));
      assert.equal(health.status, "warning", JSON.stringify(health));
      assert.match(health.reasons.join(" "), /after the 450 ms window/);
    });
  },
);

rootTest(
  "merge: resequence 20 ms: the output is in order (pass-through of the same legs is not) and each datagram waits its delay: median latency 20 ± 2 ms above pass-through's, at the receiver",
  async () => {
    await withTopology(async (t) => {
      const n = await t.legs();
      const relay = await startRelay(
        t,
        n.relay,
        `rules:\n${mergeRule(n, "pass", 5008, 6008, NUMBERED_KEY)}${
          mergeRule(n, "reseq", 5009, 6009, `${NUMBERED_KEY}\nmode: resequence\ndelay_ms: 20`)
        }`,
      );
      const count = 10_000;
      const run = async (port: number, runId: number) => {
        const sink = startSink(t, n.sink, {
          group: "239.9.9.1",
          port: port + 1000,
          iface: n.sinkIf,
          runId,
          idleMs: 2500,
        });
        await sleep(300);
        const g = await genLegs(t, n, [
          ...legArgs(n, port),
          "--count",
          String(count),
          "--rate",
          "2000",
          "--size",
          "200",
          "--run-id",
          String(runId),
          "--leg-loss",
          "0:3:51",
          "--leg-loss",
          "1:3:52",
          "--leg-delay",
          "1:4",
        ]);
        return { g, got: await sink.result };
      };
      const pass = await run(5008, 48);
      const reseq = await run(5009, 49);
      const m = await settled(t, n.relay, "reseq");
      await relay.stop();
      const lostBoth = both(reseq.g.legs[0].dropped, reseq.g.legs[1].dropped);
      assert.equal(reseq.got.unique, count - lostBoth, JSON.stringify(reseq.got));
      assert.equal(reseq.got.duplicates, 0);
      assert.equal(reseq.got.reordered, 0, "resequenced: in order");
      assert.ok(pass.got.reordered > 0, "pass-through of the same legs reorders (the check bites)");
      assert.equal(m.figures.lost, lostBoth);
      const added = reseq.got.latency!.p50_us - pass.got.latency!.p50_us;
      console.log(`resequence 20 ms added ${added.toFixed(0)} µs at the median`);
      assert.ok(
        Math.abs(added - 20_000) <= 2_000,
        `resequencing added ${added} µs at the median (pass ${pass.got.latency!.p50_us}, reseq ${
          reseq.got.latency!.p50_us
        })`,
      );
    });
  },
);

/** `mcr gen` of numbered datagrams on one link (one encoder of a failover pair). */
async function genOne(
  t: Topology,
  ns: string,
  iface: string,
  group: string,
  port: number,
  args: string[],
): Promise<{ sent: number }> {
  const r = await t.run(
    ns,
    selfCommand([
      "gen",
      "--group",
      group,
      "--port",
      String(port),
      "--interface",
      iface,
      "--ttl",
      "8",
      "--json",
      ...args,
    ]),
    300_000,
  );
  if (r.code !== 0) throw new Error(`mcr gen failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!);
}

rootTest(
  "merge failover: two encoders; the primary falls silent: the backup is sent once hold-off (200 ms, by the relay's receive times) has passed; a manual lock holds the silent primary until lifted; every switch is an event",
  async () => {
    await withTopology(async (t) => {
      const n = await t.legs();
      const relay = await startRelay(
        t,
        n.relay,
        `rules:\n${
          mergeRule(
            n,
            "fo",
            5010,
            6010,
            `${NUMBERED_KEY}\nmode: failover\nfailover: { primary: 0, hold_off_ms: 200, clear_ms: 1000 }`,
          )
        }`,
      );
      const events = t.spawn(n.relay, [
        "curl",
        "-sN",
        "--max-time",
        "14",
        "http://127.0.0.1:8787/api/v1/events",
      ], { stdout: "piped", stderr: "null" });
      const eventText = new Response(events.stdout).text();
      // The backup leg as the relay receives it: the times the relay judges hold-off by.
      const bluePcap = `/tmp/mcr-failover-blue-${Deno.pid}.pcap`;
      const blueCap = await startCapture(t, n.relay, [
        "tcpdump",
        "-i",
        n.relayIn2,
        "-w",
        bluePcap,
        "udp port 5010",
      ]);
      const backupSink = startSink(t, n.sink, {
        group: "239.9.9.1",
        port: 6010,
        iface: n.sinkIf,
        runId: 2,
        idleMs: 3000,
      });
      await sleep(300);
      // Primary (run 1): 3 s; backup (run 2): 9 s, starting 0.5 s later.
      const primary = genOne(t, n.gen, n.genIf, "239.1.1.1", 5010, [
        "--count",
        "3000",
        "--rate",
        "1000",
        "--size",
        "200",
        "--run-id",
        "1",
      ]);
      await sleep(500);
      const backup = genOne(t, n.gen, n.genIf2, "239.2.1.1", 5010, [
        "--count",
        "9000",
        "--rate",
        "1000",
        "--size",
        "200",
        "--run-id",
        "2",
      ]);
      await primary;
      await sleep(1_500);
      const afterSwitch = await merges(t, n.relay, "fo");
      // Lock the silent primary: nothing is sent while it holds.
      const lock = await apiSend(t, n.relay, "PUT", "/api/v1/merges/fo/lock", { leg: 0 });
      assert.equal(JSON.parse(lock.text).locked_leg, 0, lock.text);
      await sleep(300);
      const locked1 = await merges(t, n.relay, "fo");
      await sleep(1_000);
      const locked2 = await merges(t, n.relay, "fo");
      const unlock = await apiSend(t, n.relay, "PUT", "/api/v1/merges/fo/lock", { leg: null });
      assert.equal(JSON.parse(unlock.text).locked_leg, -1);
      await sleep(1_000);
      const unlocked = await merges(t, n.relay, "fo");
      await backup;
      const got = await backupSink.result;
      const refused = await apiSend(t, n.relay, "PUT", "/api/v1/merges/fo/lock", { leg: 5 });
      await relay.stop();
      blueCap.kill("SIGTERM");
      await blueCap.status;
      const blue = await captureTimes(t, n.relay, bluePcap).finally(() =>
        Deno.remove(bluePcap).catch(() => {})
      );
      const text = await eventText;
      // The switch away from the silent primary: hold-off after its last datagram, by the
      // relay's own receive times (the switch log's time and the leg's last datagram).
      const away = afterSwitch.switches.find((s) => s.from === 0 && s.to === 1)!;
      assert.ok(away, JSON.stringify(afterSwitch.switches));
      assert.equal(away.reason, "silence");
      const lastPrimary = afterSwitch.legs[0].last_packet_ms;
      const waited = away.at_ms - lastPrimary;
      assert.ok(waited >= 200, `switched ${waited} ms after the last datagram`);
      // Switched with the first backup datagram that came once hold-off was over, not later
      // (however the backup's sender paced it): the capture on the backup's link shares the
      // relay's (kernel) receive times; 0.5 ms is what their two copies of them may differ by.
      const times = blue.map((s) => s * 1000);
      const k = times.findIndex((ms) => Math.abs(ms - away.at_ms) <= 0.5);
      const after = (i: number) => i < 0 ? "-" : (times[i] - lastPrimary).toFixed(3);
      const story = `switched ${waited} ms after the primary's last datagram, with the backup's ` +
        `datagram that came ${after(k)} ms after it; the one before came ${after(k - 1)} ms after`;
      assert.ok(k > 0, story);
      assert.ok(times[k] - lastPrimary >= 199.5, story);
      assert.ok(times[k - 1] - lastPrimary < 200.5, story);
      // Locked on the silent primary: nothing more sent.
      assert.equal(locked1.figures.active_leg, 0);
      assert.equal(
        locked2.figures.forwarded,
        locked1.figures.forwarded,
        "nothing sent while locked",
      );
      assert.equal(unlocked.figures.active_leg, 1, "lock lifted: the backup again");
      assert.ok(unlocked.figures.forwarded > locked2.figures.forwarded);
      assert.equal(got.duplicates, 0);
      assert.ok(got.unique > 4_000, `backup datagrams delivered: ${got.unique}`);
      assert.equal(refused.status, 409, "a leg that does not exist: refused");
      assert.match(text, /"event":"switch","at_ms":[\d.]+,"from":0,"to":1,"reason":"silence"/);
      assert.match(text, /"event":"locked","leg":0/);
      assert.match(text, /"reason":"lock"/);
    });
  },
);

rootTest(
  "merge, hostile: a third sender replays another run's datagrams onto the blue leg's group while both legs carry the stream: nothing of it is sent, nothing is sent twice, and the merge counts what it refused",
  async () => {
    await withTopology(async (t) => {
      const n = await t.legs();
      const relay = await startRelay(
        t,
        n.relay,
        `rules:\n${mergeRule(n, "feed", 5004, 6004, NUMBERED_KEY)}`,
      );
      const count = 20_000;
      const sink = startSink(t, n.sink, {
        group: "239.9.9.1",
        port: 6004,
        iface: n.sinkIf,
        runId: 43,
        idleMs: 2500,
      });
      await sleep(300);
      const gen = genLegs(t, n, [
        ...legArgs(n, 5004),
        "--count",
        String(count),
        "--rate",
        "4000",
        "--size",
        "200",
        "--run-id",
        "43",
        "--leg-delay",
        "1:3",
      ]);
      await sleep(1_500);
      // The intruder: numbers 0.. again (a replay), on blue's group.
      const intruder = genOne(t, n.gen, n.genIf2, "239.2.1.1", 5004, [
        "--count",
        "8000",
        "--rate",
        "4000",
        "--size",
        "200",
        "--run-id",
        "99",
      ]);
      await Promise.all([gen, intruder]);
      const got = await sink.result;
      const m = await settled(t, n.relay, "feed");
      await relay.stop();
      assert.equal(got.unique, count, JSON.stringify(got));
      assert.equal(got.duplicates, 0);
      assert.equal(got.foreign, 0, "no datagram of the intruder's run reached the receiver");
      assert.ok(m.figures.rejected + m.figures.late >= 7_000, JSON.stringify(m.figures));
      assert.equal(m.figures.resyncs, 0, "the real sequence kept moving");
    });
  },
);
