/**
 * The status page in a real browser: headless Chromium (Debian's) opens `/`
 * while a stream flows; the page loads with nothing fetched from elsewhere,
 * lists the rules (an on-demand output marked), shows the IGMP querier in its
 * Routing section, and its chart and rate move.
 */
import assert from "node:assert/strict";
import { type Topology, withTopology } from "../../src/tools/topology.ts";
import { DEV_RUN_FLAGS } from "../../src/runtime.ts";
import { rootTest } from "../helpers/netns.ts";
import { runGen, sleep, startRelay, startSink } from "../helpers/relay.ts";

/** Runs a Chromium driver of ./fixtures in namespace `ns` (Chromium speaks to the relay there). */
function browse(t: Topology, ns: string, driver: string, args: string[]) {
  return t.run(ns, [
    Deno.execPath(),
    "run",
    "--config",
    new URL("../../deno.json", import.meta.url).pathname,
    ...DEV_RUN_FLAGS,
    new URL(`./fixtures/${driver}`, import.meta.url).pathname,
    ...args,
  ], 90_000);
}

rootTest(
  "root: the status page in headless Chromium lists the rules and its chart and rates move while a stream flows",
  async () => {
    await withTopology(async (t) => {
      const n = await t.chain();
      const yaml = `igmp: { interfaces: [${n.relayOut}] }\n` + "rules:\n" +
        `  - { name: cam1, input: { interface: ${n.relayIn}, group: 239.1.1.1, port: 5001 }, outputs: [{ interface: ${n.relayOut}, group: 239.9.9.1, port: 6001 }, { interface: ${n.relayOut}, group: 239.9.9.3, port: 6003, on_demand: true }, { egress: routed, address: 198.51.100.9, port: 7001 }] }\n` +
        `  - { name: cam2, input: { interface: ${n.relayIn}, group: 239.1.1.2, port: 5002 }, outputs: [{ interface: ${n.relayOut}, group: 239.9.9.2, port: 6002 }] }\n`;
      const relay = await startRelay(t, n.relay, yaml);
      const gen = runGen(t, n.gen, {
        group: "239.1.1.1",
        port: 5001,
        count: 24_000,
        rate: 2000,
        iface: n.genIf,
        size: 256,
      });
      // A receiver joins the on-demand output's group.
      const sink = startSink(t, n.sink, {
        group: "239.9.9.3",
        port: 6003,
        iface: n.sinkIf,
        maxSeconds: 60,
        idleMs: 60_000,
      });
      await sleep(1000);
      const shot = Deno.env.get("MCR_STATUS_SCREENSHOT") ?? `${Deno.makeTempDirSync()}/status.png`;
      const r = await browse(t, n.relay, "browse_status.ts", ["http://127.0.0.1:8787/", shot]);
      await gen;
      sink.kill();
      await sink.result.catch(() => {});
      await relay.stop();
      assert.equal(r.code, 0, r.stderr);
      const page = JSON.parse(r.stdout.trim().split("\n").pop()!);
      assert.equal(page.title, "mcr status");
      assert.equal(page.loaded, true, "the page loaded its data");
      assert.deepEqual(
        page.rules,
        ["cam1", "cam2"],
        `the rules are listed: ${JSON.stringify(page)}`,
      );
      assert.ok(
        ["ok", "warning", "critical"].includes(page.health),
        `the health verdict is shown: ${JSON.stringify(page)}`,
      );
      assert.ok(page.second.points > page.first.points, `the chart grew: ${JSON.stringify(page)}`);
      assert.ok(
        page.first.rx > 1000 && page.second.rx > 1000,
        `the input rate shows the stream: ${JSON.stringify(page)}`,
      );
      assert.deepEqual(page.offsite, [], "nothing fetched from anywhere but the relay");
      assert.deepEqual(
        page.routing,
        [`IGMP${n.relayOut}querier 10.0.1.1 (us)groups: 239.9.9.3`],
        `the Routing section shows the querier and the group: ${JSON.stringify(page)}`,
      );
      assert.ok(
        page.outputs.some((o: string) => o.includes("239.9.9.3:6003 (on demand)")),
        `the joined on-demand output is listed, marked: ${JSON.stringify(page.outputs)}`,
      );
      assert.ok(Deno.statSync(shot).size > 10_000, "a screenshot was taken");
      // What is wrong stands out: cam1 loses every copy at its routed output (no route: losing),
      // cam2 receives nothing (silent); each output shows its own counters; the chart has a time axis.
      assert.deepEqual(page.states, { cam1: "losing", cam2: "silent" }, JSON.stringify(page));
      assert.notEqual(page.colours.cam1, page.colours.cam2, "amber and red");
      assert.notEqual(page.colours.cam1, "rgba(0, 0, 0, 0)");
      const routed = page.counters.find((o: { text: string }) => o.text.includes("198.51.100.9"));
      assert.ok(routed.lost > 0 && routed.sent === 0, JSON.stringify(page.counters));
      assert.match(routed.text, /refused/);
      const l2 = page.counters.find((o: { text: string }) => o.text.includes("239.9.9.1:6001"));
      assert.ok(l2.sent > 1000 && l2.lost === 0, JSON.stringify(page.counters));
      assert.ok(
        page.ticks.includes("now") && page.ticks.includes("-1 min") && page.ticks.includes("-15 s"),
        JSON.stringify(page.ticks),
      );
      assert.equal(page.reasonsAboveChart, true, "the reasons are above the chart, in view");
      // A click on the silent rule shows where its stream stops: nothing arrives for it.
      assert.ok(page.explained.includes("arrival:fail"), JSON.stringify(page.explained));
      assert.ok(page.explained.includes("input_interface:ok"), JSON.stringify(page.explained));
      assert.match(page.explainText, /no packet matched/);
    });
  },
  { timeoutMs: 120_000 },
);

rootTest(
  "root: on a non-loopback listener with a token, a browser signs in once (HttpOnly, SameSite=Strict session), reads the page and its live chart, cannot change anything with the cookie, and signs out",
  async () => {
    await withTopology(async (t) => {
      const n = await t.chain();
      const dir = Deno.makeTempDirSync({ prefix: "mcr-token-" });
      const token = "status-page-token-0123456789";
      Deno.writeTextFileSync(`${dir}/token`, token + "\n", { mode: 0o600 });
      const yaml = `api: { listen: "10.0.1.1:8787", token_file: ${dir}/token }\n` + "rules:\n" +
        `  - { name: cam1, input: { interface: ${n.relayIn}, group: 239.1.1.1, port: 5001 }, outputs: [{ interface: ${n.relayOut}, group: 239.9.9.1, port: 6001 }] }\n`;
      const relay = await startRelay(t, n.relay, yaml);
      const gen = runGen(t, n.gen, {
        group: "239.1.1.1",
        port: 5001,
        count: 20_000,
        rate: 2000,
        iface: n.genIf,
        size: 256,
      });
      const r = await browse(t, n.relay, "browse_login.ts", ["http://10.0.1.1:8787/", token]);
      await gen;
      await relay.stop();
      Deno.removeSync(dir, { recursive: true });
      assert.equal(r.code, 0, r.stderr);
      const p = JSON.parse(r.stdout.trim().split("\n").pop()!);
      const all = JSON.stringify(p);
      assert.equal(p.atLogin, true, `sent to /login first: ${all}`);
      assert.match(p.refused ?? "", /not this relay's API token/, all);
      assert.equal(p.loaded, true, `signed in, the page loaded its data: ${all}`);
      assert.equal(p.path, "/");
      assert.deepEqual(p.rules, ["cam1"]);
      assert.ok(p.chart.second > p.chart.first, `the event stream moves the chart: ${all}`);
      assert.deepEqual(p.cookie, {
        name: "mcr_session_8787",
        httpOnly: true,
        sameSite: "Strict",
        path: "/",
      });
      assert.doesNotMatch(p.scriptSees, /mcr_session/, "the page's script cannot read the session");
      assert.equal(p.change, 401, "a change with the cookie alone is refused");
      assert.equal(p.signedOut, true);
      assert.equal(p.backToLogin, true, `after signing out the page asks again: ${all}`);
      assert.deepEqual(p.offsite, []);
    });
  },
  { timeoutMs: 120_000 },
);
