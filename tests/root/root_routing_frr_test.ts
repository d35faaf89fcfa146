/**
 * mcr against a router nobody here wrote: FRR (pimd with IGMP and MSDP) in
 * the namespace between mcr and a receiver.
 *
 *   gen 10.0.0.1 -- 10.0.0.2 mcr 10.0.1.1 -- 10.0.1.254 FRR 10.0.2.254 -- 10.0.2.2 receiver
 */
import assert from "node:assert/strict";
import { type Topology, withTopology } from "../../src/tools/topology.ts";
import { frrAvailable, startFrr } from "../helpers/frr.ts";
import { rootTest } from "../helpers/netns.ts";
import { startCapture, startRelay, startSink } from "../helpers/relay.ts";
import {
  outputPackets,
  putConfig,
  routing,
  startStream,
  stats,
  waitFor,
} from "../helpers/routing.ts";
import { RoutingResponse } from "../../src/api/responses.ts";

function frrConfig(n: { routerIn: string; routerOut: string }, extra = ""): string {
  return [
    "ip pim rp 10.0.1.1 239.0.0.0/8",
    `interface ${n.routerIn}`,
    " ip pim",
    " ip pim hello 1 3",
    " ip igmp",
    `interface ${n.routerOut}`,
    " ip pim",
    " ip igmp",
    " ip igmp query-interval 2",
    " ip igmp query-max-response-time 10",
    extra,
  ].join("\n");
}

/**
 * The relayed stream's only configured output goes to another link (a veth
 * pair inside mcr's namespace, mcrside0), so that what reaches FRR's link is
 * what PIM asked for; the source written into it, 10.0.0.1, is routed
 * through mcr in FRR's namespace (its RPF check).
 */
async function sideLink(t: Topology, n: { relay: string; router: string }): Promise<void> {
  for (
    const argv of [
      ["ip", "link", "add", "mcrside0", "type", "veth", "peer", "name", "mcrside1"],
      ["ip", "link", "set", "mcrside0", "up"],
      ["ip", "link", "set", "mcrside1", "up"],
    ]
  ) assert.equal((await t.run(n.relay, argv)).code, 0, argv.join(" "));
  assert.equal(
    (await t.run(n.router, ["ip", "route", "add", "10.0.0.0/24", "via", "10.0.1.1"])).code,
    0,
  );
}

rootTest(
  "frr: mcr and FRR pimd list each other as PIM neighbours, and the DR is the one RFC 7761's election picks on both sides",
  async () => {
    if (!frrAvailable()) {
      throw new Error("FRR is not installed (Debian package frr): make deps installs it");
    }
    await withTopology(async (t) => {
      const n = await t.routedChain();
      const relay = await startRelay(
        t,
        n.relay,
        [
          `pim: { interfaces: [${n.relayOut}], hello_interval_ms: 1000 }`,
          `igmp: { interfaces: [${n.relayOut}], query_interval_ms: 2000, query_response_ms: 1000 }`,
          "rules:",
          "  - name: a",
          `    input: { interface: ${n.relayIn}, group: 239.1.1.1, port: 5001 }`,
          `    outputs: [{ interface: ${n.relayOut}, group: 239.9.9.1, port: 6001, on_demand: true }]`,
        ].join("\n"),
      );
      const frr = await startFrr({ ns: n.router, config: frrConfig(n) });
      try {
        // Each lists the other.
        await waitFor(
          "mcr to list FRR as a PIM neighbour",
          15_000,
          async () =>
            (await routing(t, n.relay)).pim.neighbors.some((x) =>
              x.address === "10.0.1.254" && x.interface === n.relayOut
            ),
        );
        await waitFor("FRR to list mcr as a PIM neighbour", 15_000, async () => {
          const nb = await frr.json<Record<string, Record<string, unknown>>>(
            "show ip pim neighbor json",
          );
          return nb[n.routerIn]?.["10.0.1.1"] !== undefined;
        });
        // Equal priorities (1 and FRR's default 1): the higher address, FRR's, is DR on both sides.
        const drOf = async () => {
          const r = await routing(t, n.relay);
          const ifs = await frr.json<Record<string, { pimDesignatedRouter?: string }>>(
            "show ip pim interface json",
          );
          return {
            mcr: r.pim.interfaces.find((i) => i.interface === n.relayOut)?.dr,
            frr: ifs[n.routerIn]?.pimDesignatedRouter,
          };
        };
        await waitFor("both to pick 10.0.1.254 as DR", 10_000, async () => {
          const d = await drOf();
          return d.mcr === "10.0.1.254" && d.frr === "10.0.1.254";
        });
        // A higher priority wins over a higher address: mcr with priority 10 becomes DR, as FRR agrees.
        assert.equal(
          await putConfig(t, n.relay, (c) => (c.pim as Record<string, unknown>).dr_priority = 10),
          200,
        );
        await waitFor("both to pick mcr (priority 10) as DR", 10_000, async () => {
          const d = await drOf();
          return d.mcr === "10.0.1.1" && d.frr === "10.0.1.1";
        });
        const r = await routing(t, n.relay);
        assert.equal(r.pim.interfaces[0].is_dr, true);
        assert.equal(r.pim.neighbors[0].dr_priority, 1, "FRR's priority as its Hellos carry it");
        assert.ok((await routing(t, n.relay)).counters.pim_received > 0);

        // PIM taken out over the API is in force when acknowledged: mcr's goodbye Hello
        // (holdtime 0, RFC 7761 4.3.1) is on the wire before the 200, so FRR drops mcr at
        // once instead of waiting out its holdtime. The order is read from the capture's
        // kernel timestamps (tcpdump decodes the Hello), not from a wall-clock bound.
        const pcap = `/tmp/mcr-frr-goodbye-${Deno.pid}.pcap`;
        const capture = await startCapture(t, n.relay, [
          "tcpdump",
          "-i",
          n.relayOut,
          "-nn",
          "-U",
          "-w",
          pcap,
          "ip proto 103",
        ]);
        assert.equal(await putConfig(t, n.relay, (c) => delete c.pim), 200);
        const acknowledgedAt = Date.now() / 1000;
        capture.kill("SIGTERM");
        await capture.status;
        const decoded = (await t.run(n.relay, ["tcpdump", "-r", pcap, "-nn", "-tt", "-v"])).stdout;
        await Deno.remove(pcap).catch(() => {});
        const goodbye = decoded.split(/\n(?=\d+\.\d+ )/).find((p) =>
          /Hello/.test(p) && /Hold ?[Tt]ime.*Value: 0s/.test(p) &&
          p.includes("10.0.1.1 >")
        );
        assert.ok(goodbye, `a goodbye Hello from mcr was captured:\n${decoded}`);
        assert.ok(
          Number(goodbye.split(" ")[0]) <= acknowledgedAt,
          `the goodbye left before the 200 (${goodbye.split(" ")[0]} <= ${acknowledgedAt})`,
        );
        await waitFor(
          "FRR to drop mcr as a neighbour",
          10_000,
          async () =>
            (await frr.json<Record<string, Record<string, unknown>>>("show ip pim neighbor json"))[
              n.routerIn
            ]?.["10.0.1.1"] === undefined,
        );
        const after = await routing(t, n.relay);
        assert.deepEqual([after.pim.interfaces, after.pim.neighbors], [[], []]);
      } finally {
        await frr.stop();
        const { code } = await relay.stop();
        assert.equal(code, 0);
      }
    });
  },
);

rootTest(
  "frr: on a link where both query, FRR agrees that mcr, the lower address, is the IGMP querier",
  async () => {
    if (!frrAvailable()) {
      throw new Error("FRR is not installed (Debian package frr): make deps installs it");
    }
    await withTopology(async (t) => {
      const n = await t.routedChain();
      const relay = await startRelay(
        t,
        n.relay,
        [
          `igmp: { interfaces: [${n.relayOut}], query_interval_ms: 2000, query_response_ms: 1000 }`,
          "rules:",
          "  - name: a",
          `    input: { interface: ${n.relayIn}, group: 239.1.1.1, port: 5001 }`,
          `    outputs: [{ interface: ${n.relayOut}, group: 239.9.9.1, port: 6001, on_demand: true }]`,
        ].join("\n"),
      );
      const frr = await startFrr({ ns: n.router, config: frrConfig(n) });
      try {
        // FRR pimd reads IGMP through its multicast-routing socket: this needs CONFIG_IP_MROUTE.
        await waitFor("FRR to see mcr as the IGMP querier", 15_000, async () => {
          const i = await frr.json<Record<string, { querier?: string; querierIp?: string }>>(
            `show ip igmp interface ${n.routerIn} json`,
          );
          return i[n.routerIn]?.querier === "other" && i[n.routerIn]?.querierIp === "10.0.1.1";
        });
        assert.equal((await routing(t, n.relay)).igmp.interfaces[0].is_querier, true);
      } finally {
        await frr.stop();
        const { code } = await relay.stop();
        assert.equal(code, 0);
      }
    });
  },
  { needs: ["ip_mroute"] },
);

rootTest(
  "frr: a receiver behind FRR joins a group mcr relays; FRR's PIM join adds an output on the link to FRR and the stream reaches the receiver; the prune after the receiver leaves removes it",
  async () => {
    if (!frrAvailable()) {
      throw new Error("FRR is not installed (Debian package frr): make deps installs it");
    }
    await withTopology(async (t) => {
      const n = await t.routedChain();
      await sideLink(t, n);
      const relay = await startRelay(
        t,
        n.relay,
        [
          `pim: { interfaces: [${n.relayOut}], hello_interval_ms: 1000, rp: [{ address: 10.0.1.1, groups: 239.0.0.0/8 }] }`,
          "rules:",
          "  - name: a",
          `    input: { interface: ${n.relayIn}, group: 239.1.1.1, port: 5001 }`,
          "    outputs: [{ interface: mcrside0, group: 239.9.9.1, port: 6001, source_ip: 10.0.0.1 }]",
        ].join("\n"),
      );
      // FRR with its defaults: it switches to the source tree at the first packet, so it joins
      // (*,G) and then (S,G), and on leaving prunes both, then sends a (*,G) Join carrying an
      // (S,G,rpt) Prune for the source (which it never refreshes): mcr keeps S off that route.
      const frr = await startFrr({ ns: n.router, config: frrConfig(n) });
      const stream = startStream(t, n.gen, {
        group: "239.1.1.1",
        port: 5001,
        rate: 500,
        seconds: 60,
        iface: n.genIf,
      });
      try {
        await waitFor(
          "FRR to list mcr as a PIM neighbour",
          15_000,
          async () =>
            (await frr.json<Record<string, Record<string, unknown>>>("show ip pim neighbor json"))[
              n.routerIn
            ]?.["10.0.1.1"] !== undefined,
        );
        let s = await stats(t, n.relay);
        assert.equal(
          outputPackets(s, "a", n.relayOut),
          0,
          "nothing goes to FRR's link before a join",
        );

        // The receiver joins: FRR joins toward mcr; the stream reaches the receiver through FRR.
        const sink = startSink(t, n.sink, {
          group: "239.9.9.1",
          port: 6001,
          iface: n.sinkIf,
          maxSeconds: 12,
          idleMs: 20_000,
        });
        const learned = await waitFor("a learned output on the link to FRR", 20_000, async () => {
          const r = await routing(t, n.relay);
          return r.learned_outputs.find((o) =>
            o.interface === n.relayOut && o.group === "239.9.9.1"
          ) && r;
        });
        assert.ok(
          learned.pim.routes.some((x) => x.group === "239.9.9.1" && x.neighbor === "10.0.1.254"),
          JSON.stringify(learned.pim.routes),
        );
        RoutingResponse.parse(learned); // the live answer fits the documented schema
        const got = await sink.result;
        assert.ok(
          got.received > 500,
          `the receiver behind FRR got the stream: ${got.received} datagrams`,
        );
        assert.equal(got.corrupted, 0);
        s = await stats(t, n.relay);
        const out = s.rules[0].outputs.find((o) => o.interface === n.relayOut) as
          | Record<string, unknown>
          | undefined;
        assert.equal(out?.learned, "pim", "the output is marked as learned in the stats");
        const cfg = await (await t.run(n.relay, ["cat", relay.configPath])).stdout;
        assert.ok(
          !cfg.includes(n.relayOut + ", group: 239.9.9.1"),
          "a learned output is never written to the configuration",
        );

        // The receiver left when the sink exited: FRR prunes, the learned output goes, the link goes quiet.
        let seen = "";
        await waitFor("the learned output to go after FRR's prune", 25_000, async () => {
          const r = await routing(t, n.relay);
          seen = JSON.stringify({
            routes: r.pim.routes,
            learned: r.learned_outputs,
            counters: r.counters,
          });
          // No route asks for the source any more: gone, or (*,G) with 10.0.0.1 pruned off it.
          return r.learned_outputs.length === 0 &&
            r.pim.routes.every((x) => x.source === "*" && x.rpt_pruned.includes("10.0.0.1"));
        }).catch(async (err) => {
          throw new Error(
            `${err.message}\nmcr: ${seen}\nFRR: ${await frr.vtysh("show ip pim join")}\n${await frr
              .vtysh("show ip igmp groups")}`,
          );
        });
        const r = await routing(t, n.relay);
        assert.ok(r.counters.pim_prunes > 0, "it went by a prune");
        const before = await t.run(n.relay, [
          "cat",
          `/sys/class/net/${n.relayOut}/statistics/tx_packets`,
        ]);
        await new Promise((res) => setTimeout(res, 1500));
        const after = await t.run(n.relay, [
          "cat",
          `/sys/class/net/${n.relayOut}/statistics/tx_packets`,
        ]);
        assert.ok(
          Number(after.stdout) - Number(before.stdout) < 50,
          `the link to FRR is quiet again (hellos only): ${
            Number(after.stdout) - Number(before.stdout)
          } frames in 1.5 s`,
        );
      } finally {
        await stream.kill();
        await frr.stop();
        const { code } = await relay.stop();
        assert.equal(code, 0);
      }
    });
  },
  { needs: ["ip_mroute"] },
);

rootTest(
  "frr: an MSDP session between mcr and FRR reaches Established and holds on keepalives; FRR's SA cache lists the source mcr relays",
  async () => {
    if (!frrAvailable()) {
      throw new Error("FRR is not installed (Debian package frr): make deps installs it");
    }
    await withTopology(async (t) => {
      const n = await t.routedChain();
      const relay = await startRelay(
        t,
        n.relay,
        [
          "msdp: { peers: [{ address: 10.0.1.254, local: 10.0.1.1 }], keepalive_ms: 2000, hold_time_ms: 6000, connect_retry_ms: 1000, sa_interval_ms: 2000 }",
          "rules:",
          "  - name: a",
          `    input: { interface: ${n.relayIn}, group: 239.1.1.1, port: 5001 }`,
          `    outputs: [{ interface: ${n.relayOut}, group: 239.9.9.1, port: 6001, source_ip: 10.0.0.1 }]`,
        ].join("\n"),
      );
      const frr = await startFrr({
        ns: n.router,
        config: [frrConfig(n), "ip msdp peer 10.0.1.1 source 10.0.1.254", "ip msdp timers 2 6 1"]
          .join("\n"),
      });
      const stream = startStream(t, n.gen, {
        group: "239.1.1.1",
        port: 5001,
        rate: 200,
        seconds: 60,
        iface: n.genIf,
      });
      try {
        await waitFor(
          "FRR's MSDP session to be established",
          30_000,
          async () =>
            (await frr.json<Record<string, { state?: string }>>("show ip msdp peer json"))[
              "10.0.1.1"
            ]?.state === "established",
        );
        const peer = RoutingResponse.parse(await routing(t, n.relay)).msdp.peers[0];
        assert.equal(peer.state, "established");
        const sa = await waitFor(
          "FRR's SA cache to list 10.0.0.1 -> 239.9.9.1",
          20_000,
          async () => {
            const c = await frr.json<Record<string, Record<string, { rp?: string }>>>(
              "show ip msdp sa json",
            );
            return c["239.9.9.1"]?.["10.0.0.1"];
          },
        );
        assert.equal(sa.rp, "10.0.1.1", "originated by mcr as RP");
        // Keepalives both ways hold the one session past both 6 s hold times.
        await new Promise((res) => setTimeout(res, 7000));
        assert.equal(
          (await frr.json<Record<string, { state?: string }>>("show ip msdp peer json"))["10.0.1.1"]
            ?.state,
          "established",
        );
        const r = await routing(t, n.relay);
        assert.ok(r.counters.msdp_received > 0 && r.counters.msdp_sent > 0);
        assert.equal(r.counters.msdp_established, 1, "one session throughout");
        assert.ok((r.msdp.peers[0].up_ms as number) > 6000);
      } finally {
        await stream.kill();
        await frr.stop();
        const { code } = await relay.stop();
        assert.equal(code, 0);
      }
    });
  },
);

rootTest(
  "frr: FRR's SA for a source behind it reaches mcr's SA cache",
  async () => {
    if (!frrAvailable()) {
      throw new Error("FRR is not installed (Debian package frr): make deps installs it");
    }
    await withTopology(async (t) => {
      const n = await t.routedChain();
      const relay = await startRelay(
        t,
        n.relay,
        [
          "msdp: { peers: [{ address: 10.0.1.254, local: 10.0.1.1 }], keepalive_ms: 2000, hold_time_ms: 6000, connect_retry_ms: 1000, sa_interval_ms: 2000 }",
          "rules:",
          "  - name: a",
          `    input: { interface: ${n.relayIn}, group: 239.1.1.1, port: 5001 }`,
          `    outputs: [{ interface: ${n.relayOut}, group: 239.9.9.1, port: 6001, source_ip: 10.0.0.1 }]`,
        ].join("\n"),
      );
      const frr = await startFrr({
        ns: n.router,
        config: [frrConfig(n), "ip msdp peer 10.0.1.1 source 10.0.1.254", "ip msdp timers 2 6 1"]
          .join("\n"),
      });
      try {
        await waitFor(
          "FRR's MSDP session to be established",
          30_000,
          async () =>
            (await frr.json<Record<string, { state?: string }>>("show ip msdp peer json"))[
              "10.0.1.1"
            ]?.state === "established",
        );
        // FRR learns its local source through its multicast-routing socket: this needs CONFIG_IP_MROUTE.
        // The other way: a source behind FRR, FRR its RP for 239.5.0.0/16, FRR's SA reaches mcr's cache.
        await frr.vtysh("configure terminal\nip pim rp 10.0.1.254 239.5.0.0/16");
        const far = startStream(t, n.sink, {
          group: "239.5.5.5",
          port: 7000,
          rate: 100,
          seconds: 60,
          iface: n.sinkIf,
        });
        try {
          const cached = await waitFor(
            "mcr's SA cache to list FRR's source 10.0.2.2 -> 239.5.5.5",
            30_000,
            async () =>
              (await routing(t, n.relay)).msdp.sa_cache.find((e) =>
                e.source === "10.0.2.2" && e.group === "239.5.5.5"
              ),
          );
          assert.equal(cached.rp, "10.0.1.254");
          assert.equal(cached.peer, "10.0.1.254");
        } finally {
          await far.kill();
        }
      } finally {
        await frr.stop();
        const { code } = await relay.stop();
        assert.equal(code, 0);
      }
    });
  },
  { needs: ["ip_mroute"] },
);

rootTest(
  "frr: with FRR as the RP, mcr's Null-Registers make FRR learn the source behind mcr and join toward it; the stream reaches FRR's receiver and FRR's Register-Stop quiets the registers",
  async () => {
    if (!frrAvailable()) {
      throw new Error("FRR is not installed (Debian package frr): make deps installs it");
    }
    await withTopology(async (t) => {
      const n = await t.routedChain();
      await sideLink(t, n);
      const relay = await startRelay(
        t,
        n.relay,
        [
          `pim: { interfaces: [${n.relayOut}], hello_interval_ms: 1000, rp: [{ address: 10.0.1.254, groups: 239.0.0.0/8 }] }`,
          "rules:",
          "  - name: a",
          `    input: { interface: ${n.relayIn}, group: 239.1.1.1, port: 5001 }`,
          "    outputs: [{ interface: mcrside0, group: 239.9.9.1, port: 6001, source_ip: 10.0.0.1 }]",
        ].join("\n"),
      );
      // FRR is the RP itself; its receiver joins (*,G) there.
      const frr = await startFrr({
        ns: n.router,
        config: frrConfig(n).replace("ip pim rp 10.0.1.1", "ip pim rp 10.0.1.254"),
      });
      const stream = startStream(t, n.gen, {
        group: "239.1.1.1",
        port: 5001,
        rate: 500,
        seconds: 60,
        iface: n.genIf,
      });
      try {
        await waitFor(
          "FRR to list mcr as a PIM neighbour",
          15_000,
          async () =>
            (await frr.json<Record<string, Record<string, unknown>>>("show ip pim neighbor json"))[
              n.routerIn
            ]?.["10.0.1.1"] !== undefined,
        );
        const sink = startSink(t, n.sink, {
          group: "239.9.9.1",
          port: 6001,
          iface: n.sinkIf,
          maxSeconds: 15,
          idleMs: 20_000,
        });
        const r = await waitFor("FRR's (S,G) join after mcr's Null-Register", 20_000, async () => {
          const x = await routing(t, n.relay);
          return x.pim.routes.some((rt) => rt.source === "10.0.0.1" && rt.group === "239.9.9.1") &&
            x;
        });
        assert.ok(r.counters.pim_registers_sent > 0);
        assert.ok(
          r.learned_outputs.some((o) => o.interface === n.relayOut && o.source === "10.0.0.1"),
        );
        const got = await sink.result;
        assert.ok(got.received > 500, `the receiver behind the RP got the stream: ${got.received}`);
        const after = await waitFor("a Register-Stop from FRR", 15_000, async () => {
          const x = await routing(t, n.relay);
          return x.counters.pim_register_stops > 0 && x;
        });
        assert.equal(
          after.pim.registers[0].state,
          "prune",
          "registering suppressed while the RP receives natively",
        );
      } finally {
        await stream.kill();
        await frr.stop();
        const { code } = await relay.stop();
        assert.equal(code, 0);
      }
    });
  },
  { needs: ["ip_mroute"] },
);
