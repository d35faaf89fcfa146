/**
 * `mcr explain`: each step of a stream's path is broken on purpose in
 * namespaces, and the report names the step that broke: input link down,
 * wrong group at the sender, TTL 1 at ingress, an output route missing, an
 * output MTU too small, no querier on the input link (and then one), while
 * a healthy rule beside them stays ok. One relay, one rule per fault.
 */
import assert from "node:assert/strict";
import { selfCommand } from "../../src/runtime.ts";
import type { ExplainReport, ExplainStep } from "../../src/stats/explain.ts";
import { type Topology, withTopology } from "../../src/tools/topology.ts";
import { rootTest } from "../helpers/netns.ts";
import { sleep, startRelay } from "../helpers/relay.ts";
import { API, apiGet, startStream } from "../helpers/routing.ts";

/** A stream of 200 datagrams/s in the background until killed. */
function stream(
  t: Topology,
  ns: string,
  o: { group: string; port: number; iface: string; ttl?: number; size?: number },
): { kill(): Promise<void> } {
  return startStream(t, ns, { ...o, rate: 200, seconds: 500 });
}

function rule(name: string, input: string, group: string, port: number, output: string): string {
  return `  - name: ${name}\n    input: { interface: ${input}, group: ${group}, port: ${port} }\n` +
    `    outputs:\n      - ${output}\n`;
}

/** The one step of `name` (the n-th), failing the test with the report when absent. */
function stepOf(r: ExplainReport, name: ExplainStep["step"], n = 0): ExplainStep {
  const s = r.steps.filter((x) => x.step === name)[n];
  assert.ok(s, `no ${name} step in ${JSON.stringify(r)}`);
  return s;
}

/** The steps that are not ok (skipped ones aside), as "step:status". */
function notOk(r: ExplainReport): string[] {
  return r.steps.filter((s) => s.status !== "ok" && s.status !== "skip").map((s) =>
    `${s.step}:${s.status}`
  );
}

rootTest(
  "explain: link down, wrong group, TTL 1 at ingress, output route missing, MTU too small and no querier are each named as the step that fails; a querier appearing turns the warning ok",
  async () => {
    await withTopology(async (t) => {
      const n = await t.chain();
      const p = t.prefix;
      // A second output link (MTU 576) and a second input link (taken down).
      const out2 = `${p}v6`, sink2 = `${p}v7`, in3 = `${p}v8`, gen3 = `${p}v9`;
      await t.addVeth(n.relay, out2, n.sink, sink2);
      await t.addAddress(n.relay, out2, "10.0.3.1/24");
      await t.run(n.relay, ["ip", "link", "set", out2, "mtu", "576"]);
      await t.addVeth(n.gen, gen3, n.relay, in3);
      await t.addAddress(n.relay, in3, "10.0.4.2/24");
      const l2 = (g: string, port: number, iface = n.relayOut) =>
        `{ interface: ${iface}, group: ${g}, port: ${port} }`;
      const yaml = "rules:\n" +
        rule("fine", n.relayIn, "239.1.1.1", 5001, l2("239.9.9.1", 6001)) +
        rule("wrong_group", n.relayIn, "239.1.1.2", 5002, l2("239.9.9.2", 6002)) +
        rule("ttl_one", n.relayIn, "239.1.1.4", 5004, l2("239.9.9.4", 6004)) +
        rule(
          "no_route",
          n.relayIn,
          "239.1.1.5",
          5005,
          "{ egress: routed, address: 198.51.100.9, port: 7005 }",
        ) +
        rule("small_mtu", n.relayIn, "239.1.1.6", 5006, l2("239.9.9.6", 6006, out2)) +
        rule("link_down", in3, "239.1.1.7", 5007, l2("239.9.9.7", 6007));
      const relay = await startRelay(t, n.relay, yaml);
      const senders = [
        stream(t, n.gen, { group: "239.1.1.1", port: 5001, iface: n.genIf }),
        stream(t, n.gen, { group: "239.1.1.3", port: 5002, iface: n.genIf }), // not the rule's group
        stream(t, n.gen, { group: "239.1.1.4", port: 5004, iface: n.genIf, ttl: 1 }),
        stream(t, n.gen, { group: "239.1.1.5", port: 5005, iface: n.genIf }),
        stream(t, n.gen, { group: "239.1.1.6", port: 5006, iface: n.genIf, size: 1024 }),
      ];
      let querier: Awaited<ReturnType<typeof startRelay>> | null = null;
      try {
        await t.run(n.relay, ["ip", "link", "set", in3, "down"]);
        await sleep(3_500); // a few of the once-a-second samples
        const explain = (name: string) =>
          apiGet<ExplainReport>(t, n.relay, `/api/v1/rules/${name}/explain`);

        const fine = await explain("fine");
        assert.deepEqual(notOk(fine), ["querier:warn"], JSON.stringify(fine, null, 1));
        assert.equal(fine.verdict, "warn");
        assert.match(
          stepOf(fine, "querier").detail,
          new RegExp(`no IGMP querier heard on ${n.relayIn}`),
        );
        assert.match(stepOf(fine, "membership").detail, /239\.1\.1\.1 joined/);
        assert.equal(stepOf(fine, "arrival").status, "ok");

        const down = await explain("link_down");
        assert.equal(stepOf(down, "input_interface").status, "fail", JSON.stringify(down));
        assert.match(stepOf(down, "input_interface").detail, new RegExp(`${in3} is down`));

        const wrong = await explain("wrong_group");
        // The input link's own kernel counters are read (they once read 0 in the relay: see net_dev_test.ts).
        const links = await apiGet<{ name: string; rx_packets: number }[]>(
          t,
          n.relay,
          "/api/v1/interfaces",
        );
        assert.ok(links.find((l) => l.name === n.relayIn)!.rx_packets > 500, JSON.stringify(links));
        assert.equal(wrong.verdict, "fail");
        assert.equal(stepOf(wrong, "arrival").status, "fail", JSON.stringify(wrong));
        assert.match(stepOf(wrong, "arrival").detail, new RegExp(`while ${n.relayIn} receives`));
        assert.match(stepOf(wrong, "arrival").hint!, /none of them is for 239\.1\.1\.2:5002/);
        assert.equal(stepOf(wrong, "input_interface").status, "ok");
        assert.equal(stepOf(wrong, "membership").status, "ok");

        const ttl = await explain("ttl_one");
        assert.equal(stepOf(ttl, "arrival").status, "fail", JSON.stringify(ttl));
        assert.match(stepOf(ttl, "arrival").detail, /frames of this stream arrive and are dropped/);
        assert.match(
          stepOf(ttl, "arrival").hint!,
          /^ttl_expired \(\d+\): .*raise the sender's TTL/,
        );

        const route = await explain("no_route");
        assert.equal(stepOf(route, "arrival").status, "ok");
        const routed = stepOf(route, "output");
        assert.equal(routed.status, "fail", JSON.stringify(route));
        assert.match(routed.detail, /sends refused by the kernel \(ENETUNREACH\)/);
        assert.match(routed.hint!, /no route/);

        const mtu = await explain("small_mtu");
        const small = stepOf(mtu, "output");
        assert.equal(small.status, "fail", JSON.stringify(mtu));
        assert.match(small.detail, new RegExp(`copies larger than the MTU of ${out2} \\(576\\)`));

        // The CLI: the same report as text, exit 2 for a failed step, 1 for a warning.
        const cli = await t.run(n.relay, selfCommand(["explain", "no_route", "--api", API]));
        assert.equal(cli.code, 2, cli.stdout + cli.stderr);
        assert.match(
          cli.stdout,
          /FAIL output routed \* 198\.51\.100\.9:7005: failing: .*ENETUNREACH/,
        );
        const none = await t.run(n.relay, selfCommand(["explain", "nosuch", "--api", API]));
        assert.equal(none.code, 1, none.stdout + none.stderr);

        // A querier appears on the input link (a second mcr on the sender's side): heard, then ok.
        querier = await startRelay(
          t,
          n.gen,
          `igmp:\n  interfaces: [${n.genIf}]\n  query_interval_ms: 2000\n  query_response_ms: 1000\nrules: []\n`,
        );
        await sleep(2_500);
        const heard = await explain("fine");
        const q = stepOf(heard, "querier");
        assert.equal(q.status, "ok", JSON.stringify(heard));
        assert.match(q.detail, /querier 10\.0\.0\.1 \(IGMPv3\)/);
        assert.equal(heard.verdict, "ok");
        const fineCli = await t.run(n.relay, selfCommand(["explain", "fine", "--api", API]));
        assert.equal(fineCli.code, 0, fineCli.stdout);
      } finally {
        await Promise.all(senders.map((s) => s.kill()));
        await querier?.stop();
        await relay.stop();
      }
    });
  },
);
