/**
 * IGMP on an on-demand output: mcr queries the link, a receiver's join
 * (IGMPv3, then IGMPv2) starts the stream there within a few seconds, and
 * its leave stops it after the last member queries. Hostile IGMP and PIM
 * packets on the link are counted and never hurt the relay.
 */
import assert from "node:assert/strict";
import { withTopology } from "../../src/tools/topology.ts";
import { rootTest } from "../helpers/netns.ts";
import { startRelay, startSink } from "../helpers/relay.ts";
import {
  outputPackets,
  putConfig,
  routing,
  startStream,
  stats,
  waitFor,
} from "../helpers/routing.ts";

function config(n: { relayIn: string; relayOut: string }): string {
  return [
    `igmp: { interfaces: [${n.relayOut}], query_interval_ms: 2000, query_response_ms: 1000, last_member_interval_ms: 300, last_member_count: 2 }`,
    "rules:",
    "  - name: a",
    `    input: { interface: ${n.relayIn}, group: 239.1.1.1, port: 5001 }`,
    `    outputs: [{ interface: ${n.relayOut}, group: 239.9.9.1, port: 6001, on_demand: true }]`,
  ].join("\n");
}

for (const version of [3, 2] as const) {
  rootTest(
    `igmp: a receiver's IGMPv${version} join starts an on-demand output within seconds; its leave stops it`,
    async () => {
      await withTopology(async (t) => {
        const n = await t.chain();
        await t.sysctl(n.sink, `net.ipv4.conf.${n.sinkIf}.force_igmp_version`, String(version));
        const relay = await startRelay(t, n.relay, config(n));
        const stream = startStream(t, n.gen, {
          group: "239.1.1.1",
          port: 5001,
          rate: 500,
          seconds: 60,
          iface: n.genIf,
        });
        try {
          await new Promise((r) => setTimeout(r, 1500));
          const idle = await stats(t, n.relay);
          assert.equal(outputPackets(idle, "a", n.relayOut), 0, "nobody asked: nothing is sent");
          assert.equal(
            idle.rules[0].active,
            true,
            "the input is still read, ready for the first receiver",
          );
          assert.ok(idle.rules[0].counters.packets > 0, "and counted");
          const health = await t.run(n.relay, ["curl", "-s", "http://127.0.0.1:8787/health"]);
          assert.equal(
            JSON.parse(health.stdout).status,
            "ok",
            `no receiver is not a fault: ${health.stdout}`,
          );
          let r = await routing(t, n.relay);
          assert.equal(r.igmp.interfaces[0].is_querier, true);
          assert.ok(r.counters.igmp_sent >= 1, "mcr queries the link");

          const joinedAt = Date.now();
          const sink = startSink(t, n.sink, {
            group: "239.9.9.1",
            port: 6001,
            iface: n.sinkIf,
            maxSeconds: 6,
            idleMs: 20_000,
          });
          r = await waitFor("the group to be present", 10_000, async () => {
            const x = await routing(t, n.relay);
            return x.igmp.interfaces[0].groups.some((g) => g.group === "239.9.9.1") && x;
          });
          const g = r.igmp.interfaces[0].groups.find((x) => x.group === "239.9.9.1")!;
          assert.equal(g.version, version);
          assert.equal(g.last_reporter, "10.0.1.2");
          await waitFor(
            "packets on the on-demand output",
            10_000,
            async () => outputPackets(await stats(t, n.relay), "a", n.relayOut) > 0,
          );
          const startS = (Date.now() - joinedAt) / 1000;
          assert.ok(startS < 5, `the stream started ${startS.toFixed(1)} s after the join`);
          if (version === 3) {
            // A configuration change (new IGMP timers over the API) racing a SIGHUP while the
            // receiver is joined: both applied in turn, the group and its output stay.
            const [status] = await Promise.all([
              putConfig(
                t,
                n.relay,
                (c) => (c.igmp as Record<string, unknown>).query_interval_ms = 3000,
              ),
              t.run(n.relay, ["kill", "-HUP", String(relay.process.pid)]),
            ]);
            assert.equal(status, 200);
            const before = outputPackets(await stats(t, n.relay), "a", n.relayOut);
            await new Promise((res) => setTimeout(res, 1000));
            const after = outputPackets(await stats(t, n.relay), "a", n.relayOut);
            assert.ok(
              after - before > 300,
              `the stream went on through the change: ${after - before} packets in 1 s`,
            );
            assert.equal((await routing(t, n.relay)).igmp.interfaces[0].groups.length, 1);
          }
          const got = await sink.result;
          assert.ok(got.received > 1000, `the receiver got the stream: ${got.received}`);

          // The sink left as it exited: last member queries, then the output goes.
          const leftAt = Date.now();
          await waitFor("the group to go after the leave", 8_000, async () => {
            const x = await routing(t, n.relay);
            return x.igmp.interfaces[0].groups.length === 0;
          });
          await waitFor(
            "the output to leave the plan",
            5_000,
            async () =>
              !(await stats(t, n.relay)).rules[0].outputs.some((o) => o.interface === n.relayOut),
          );
          const stopS = (Date.now() - leftAt) / 1000;
          const a = outputPackets(await stats(t, n.relay), "a", n.relayOut);
          assert.equal(a, 0, "no on-demand output in force any more");
          assert.ok(stopS < 6, `stopped ${stopS.toFixed(1)} s after the leave`);
        } finally {
          await stream.kill();
          const { code } = await relay.stop();
          assert.equal(code, 0);
        }
      });
    },
  );
}

rootTest(
  "igmp/pim/msdp: hostile IGMP and PIM packets (garbage, truncated, bad checksums, a flood) and MSDP connections from strangers are counted, never crash mcr, and a real join still works after",
  async () => {
    await withTopology(async (t) => {
      const n = await t.chain();
      const relay = await startRelay(
        t,
        n.relay,
        [
          `pim: { interfaces: [${n.relayOut}], hello_interval_ms: 1000 }`,
          "msdp: { peers: [{ address: 10.0.1.99, local: 10.0.1.1 }], connect_retry_ms: 1000 }",
          config(n),
        ].join("\n"),
      );
      const stream = startStream(t, n.gen, {
        group: "239.1.1.1",
        port: 5001,
        rate: 300,
        seconds: 60,
        iface: n.genIf,
      });
      try {
        // A python3 raw-socket sender in the sink's namespace: 20,000 IGMP and PIM packets.
        const script = `
import socket, random, struct
random.seed(7)
def csum(b):
    if len(b) % 2: b += b"\\0"
    s = sum(struct.unpack("!%dH" % (len(b)//2), b)); s = (s >> 16) + (s & 0xffff); s += s >> 16
    return (~s) & 0xffff
igmp = socket.socket(socket.AF_INET, socket.SOCK_RAW, 2)
pim = socket.socket(socket.AF_INET, socket.SOCK_RAW, 103)
for s in (igmp, pim):
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("10.0.1.2"))
sent = 0
for i in range(10000):
    kind = i % 5
    if kind == 0: body = bytes(random.getrandbits(8) for _ in range(random.randint(0, 40)))          # garbage
    elif kind == 1: body = bytes([0x22, 0, 0, 0, 0, 0, 0, 200])                                          # v3 report claiming 200 records
    elif kind == 2: body = bytes([0x16, 0, 0x12, 0x34]) + socket.inet_aton("239.9.9.1")                  # v2 report, wrong checksum
    elif kind == 3:
        b = bytearray([0x22, 0, 0, 0, 0, 0, 0, 1, 2, 255, 0, 3]) + socket.inet_aton("239.9.9.1")       # aux len 255: past the end
        c = csum(bytes(b)); b[2] = c >> 8; b[3] = c & 0xff; body = bytes(b)
    else: body = bytes([0x11, 100, 0, 0]) + socket.inet_aton("0.0.0.0")[:2]                            # a cut query
    igmp.sendto(body, ("224.0.0.1", 0)); sent += 1
    jp = bytearray([0x23, 0, 0, 0, 1, 0]) + socket.inet_aton("10.0.1.1") + bytes([0, 250, 0, 210])      # join/prune claiming 250 groups
    if i % 2: jp = bytearray([0x20, 0, 0, 0, 0, 1, 0, 2, 0])                                           # hello, option cut short
    c = csum(bytes(jp)); jp[2] = c >> 8; jp[3] = c & 0xff
    if i % 7 == 0: jp[2] ^= 0xff                                                                       # and some with a bad checksum
    pim.sendto(bytes(jp), ("224.0.0.13", 0)); sent += 1
print(sent)
`;
        const out = await t.run(n.sink, ["python3", "-c", script], 120_000);
        assert.equal(out.code, 0, out.stderr);
        assert.equal(Number(out.stdout.trim()), 20_000);
        await new Promise((r) => setTimeout(r, 1000));
        const r = await waitFor("the invalid packets to be counted", 10_000, async () => {
          const x = await routing(t, n.relay);
          // What the kernel dropped because mcr read too slowly (a loaded machine) is counted too.
          return x.counters.igmp_invalid + x.counters.pim_invalid + x.counters.igmp_overrun +
                  x.counters.pim_overrun >= 15_000 && x;
        });
        assert.equal(r.igmp.interfaces[0].groups.length, 0, "no group learned from garbage");
        assert.equal(r.pim.neighbors.length, 0, "no neighbour from garbage");

        // 300 TCP connections to the MSDP port from a host that is not a peer, each sending garbage.
        const tcp = `
import socket
n = 0
for i in range(300):
    s = socket.create_connection(("10.0.1.1", 639), timeout=5)
    try: s.sendall(bytes([1, 0, 1]) * 10)
    except OSError: pass
    s.close(); n += 1
print(n)
`;
        const flood = await t.run(n.sink, ["python3", "-c", tcp], 120_000);
        assert.equal(flood.code, 0, flood.stderr);
        const m = await waitFor("the refused connections to be counted", 10_000, async () => {
          const x = await routing(t, n.relay);
          return x.counters.msdp_refused >= 300 && x;
        });
        assert.notEqual(m.msdp.peers[0].state, "established", "no session with a stranger");
        assert.equal(m.counters.msdp_received, 0, "nothing a stranger sent was read");
        assert.ok(relay.process.pid > 0);
        // Still a working relay and speaker: a real receiver's join starts the stream.
        const sink = startSink(t, n.sink, {
          group: "239.9.9.1",
          port: 6001,
          iface: n.sinkIf,
          maxSeconds: 5,
          idleMs: 20_000,
        });
        const got = await sink.result;
        assert.ok(
          got.received > 300,
          `after the flood a real join still works: ${got.received} received`,
        );
      } finally {
        await stream.kill();
        const { code } = await relay.stop();
        assert.equal(code, 0, "mcr exits cleanly after the flood");
      }
    });
  },
);

for (const version of [2, 1] as const) {
  rootTest(
    `mld: a receiver's MLDv${version} join starts an on-demand IPv6 output (relayed 4->6) within seconds; its done stops it`,
    async () => {
      await withTopology(async (t) => {
        const n = await t.chain({ ipv6: true });
        await t.sysctl(n.sink, `net.ipv6.conf.${n.sinkIf}.force_mld_version`, String(version));
        const relay = await startRelay(
          t,
          n.relay,
          [
            `mld: { interfaces: [${n.relayOut}], query_interval_ms: 2000, query_response_ms: 1000, last_member_interval_ms: 300, last_member_count: 2 }`,
            "rules:",
            "  - name: a",
            `    input: { interface: ${n.relayIn}, group: 239.1.1.1, port: 5001 }`,
            `    outputs: [{ interface: ${n.relayOut}, group: "ff3e::9:1", port: 6001, on_demand: true }]`,
          ].join("\n"),
        );
        const stream = startStream(t, n.gen, {
          group: "239.1.1.1",
          port: 5001,
          rate: 500,
          seconds: 60,
          iface: n.genIf,
        });
        try {
          let r = await waitFor(
            "mcr to query the link from its link-local address",
            5_000,
            async () => {
              const x = await routing(t, n.relay);
              return x.counters.mld_sent >= 1 && x;
            },
          );
          assert.match(r.mld.interfaces[0].address, /^fe80:/);
          assert.equal(r.mld.interfaces[0].is_querier, true);
          assert.equal(
            outputPackets(await stats(t, n.relay), "a", n.relayOut),
            0,
            "nobody asked: nothing is sent",
          );

          const sink = startSink(t, n.sink, {
            group: "ff3e::9:1",
            port: 6001,
            iface: n.sinkIf,
            maxSeconds: 6,
            idleMs: 20_000,
          });
          r = await waitFor("the IPv6 group to be present", 10_000, async () => {
            const x = await routing(t, n.relay);
            return x.mld.interfaces[0].groups.some((g) => g.group === "ff3e::9:1") && x;
          });
          assert.equal(r.mld.interfaces[0].groups[0].version, version, `seen as MLDv${version}`);
          const got = await sink.result;
          assert.ok(got.received > 1000, `the receiver got the stream over IPv6: ${got.received}`);
          await waitFor(
            "the group to go after the done",
            8_000,
            async () => (await routing(t, n.relay)).mld.interfaces[0].groups.length === 0,
          );
          await waitFor(
            "the output to leave the plan",
            5_000,
            async () =>
              !(await stats(t, n.relay)).rules[0].outputs.some((o) => o.interface === n.relayOut),
          );
          assert.equal((await routing(t, n.relay)).counters.mld_invalid, 0);
        } finally {
          await stream.kill();
          const { code } = await relay.stop();
          assert.equal(code, 0);
        }
      });
    },
  );
}

rootTest(
  "routing: a change whose routing part cannot be put in force (the MSDP port is taken) is refused whole: the rule that came with it is not in force, the old configuration stays and forwards",
  async () => {
    await withTopology(async (t) => {
      const n = await t.chain();
      const relay = await startRelay(t, n.relay, config(n).replace(", on_demand: true", ""));
      const stream = startStream(t, n.gen, {
        group: "239.1.1.1",
        port: 5001,
        rate: 300,
        seconds: 60,
        iface: n.genIf,
      });
      // Another program holds 10.0.1.1:639 in mcr's namespace.
      const squatter = t.spawn(n.relay, [
        "python3",
        "-c",
        "import socket,time\ns=socket.socket()\ns.bind(('10.0.1.1',639))\ns.listen()\nprint('bound',flush=True)\ntime.sleep(120)",
      ]);
      try {
        const reader = squatter.stdout.pipeThrough(new TextDecoderStream()).getReader();
        assert.match((await reader.read()).value ?? "", /bound/);
        reader.releaseLock();
        const status = await putConfig(t, n.relay, (c) => {
          c.msdp = { peers: [{ address: "10.0.1.2", local: "10.0.1.1" }] };
          (c.rules as unknown[]).push({
            name: "b",
            input: { interface: n.relayIn, group: "239.1.1.1", port: 5001, source: "10.0.0.1" },
            outputs: [{ interface: n.relayOut, group: "239.9.9.2", port: 6002 }],
          });
        });
        assert.equal(status, 503, "refused: apply_failed");
        const c = JSON.parse(
          (await t.run(n.relay, ["curl", "-sf", "http://127.0.0.1:8787/api/v1/config"])).stdout,
        );
        assert.equal(c.msdp, undefined);
        assert.deepEqual(c.rules.map((r: { name: string }) => r.name), ["a"]);
        const s1 = await stats(t, n.relay);
        assert.deepEqual(s1.rules.map((r) => r.name), ["a"], "rule b is not in force");
        await new Promise((r) => setTimeout(r, 500));
        const s2 = await stats(t, n.relay);
        assert.ok(
          s2.rules[0].counters.packets > s1.rules[0].counters.packets,
          "rule a still forwards",
        );
        assert.deepEqual((await routing(t, n.relay)).msdp.peers, []);

        squatter.kill("SIGKILL");
        await squatter.status;
        assert.equal(
          await putConfig(
            t,
            n.relay,
            (c) => c.msdp = { peers: [{ address: "10.0.1.2", local: "10.0.1.1" }] },
          ),
          200,
        );
        assert.equal(
          (await routing(t, n.relay)).msdp.peers.length,
          1,
          "the same change is taken once the port is free",
        );
      } finally {
        try {
          squatter.kill("SIGKILL");
        } catch { /* gone */ }
        await stream.kill();
        const { code } = await relay.stop();
        assert.equal(code, 0);
      }
    });
  },
);

rootTest(
  "igmp: its interface deleted and re-created: listed as waiting while absent, then queries again and serves a join",
  async () => {
    await withTopology(async (t) => {
      const n = await t.chain();
      const relay = await startRelay(t, n.relay, config(n));
      const stream = startStream(t, n.gen, {
        group: "239.1.1.1",
        port: 5001,
        rate: 300,
        seconds: 60,
        iface: n.genIf,
      });
      try {
        await waitFor(
          "a first query",
          5_000,
          async () => (await routing(t, n.relay)).counters.igmp_sent > 0,
        );
        assert.equal((await t.run(n.relay, ["ip", "link", "del", n.relayOut])).code, 0);
        await waitFor(
          "the interface to be listed as waiting",
          10_000,
          async () =>
            (await routing(t, n.relay)).waiting.some((w) =>
              w.interface === n.relayOut && w.reason === "absent"
            ),
        );
        const cpu0 = await processCpuMs(t, n.relay, relay.process.pid);
        await new Promise((r) => setTimeout(r, 1000));
        const cpu = (await processCpuMs(t, n.relay, relay.process.pid)) - cpu0;
        assert.ok(
          cpu < 500,
          `no busy loop on the gone interface's socket: ${cpu} ms of CPU in 1 s`,
        );

        await t.addVeth(n.relay, n.relayOut, n.sink, n.sinkIf);
        await t.addAddress(n.relay, n.relayOut, "10.0.1.1/24");
        await t.addAddress(n.sink, n.sinkIf, "10.0.1.2/24");
        await t.routeMulticast(n.sink, n.sinkIf);
        const before = (await routing(t, n.relay)).counters.igmp_sent;
        await waitFor("queries on the new interface", 15_000, async () => {
          const r = await routing(t, n.relay);
          return r.waiting.length === 0 && r.igmp.interfaces.length === 1 &&
            r.counters.igmp_sent > before;
        });
        const sink = startSink(t, n.sink, {
          group: "239.9.9.1",
          port: 6001,
          iface: n.sinkIf,
          maxSeconds: 5,
          idleMs: 20_000,
        });
        const got = await sink.result;
        assert.ok(got.received > 300, `a join on the new interface is served: ${got.received}`);
      } finally {
        await stream.kill();
        const { code } = await relay.stop();
        assert.equal(code, 0);
      }
    });
  },
);

/** CPU time (user + system, ms) of a process so far, from /proc (read by a shell inside the namespace). */
async function processCpuMs(
  t: { run: (ns: string, argv: string[]) => Promise<{ stdout: string }> },
  ns: string,
  pid: number,
): Promise<number> {
  const stat = (await t.run(ns, ["cat", `/proc/${pid}/stat`])).stdout;
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime
  return ticks * 10;
}
