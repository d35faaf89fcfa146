/** PIM-SM neighbour, DR and upstream Join/Prune state (src/protocols/pim_state.ts), time passed in by hand. */
import assert from "node:assert/strict";
import { inPrefix, type PimOptions, PimRouter } from "../../src/protocols/pim_state.ts";
import type { JoinPrune } from "../../src/protocols/pim.ts";

const OPTS: PimOptions = {
  helloIntervalMs: 30_000,
  holdtimeS: 105,
  drPriority: 1,
  maxRoutes: 3,
  rps: [{ address: "10.9.9.9", prefix: "239.0.0.0/8" }, {
    address: "10.8.8.8",
    prefix: "239.1.0.0/16",
  }],
  generationId: 77,
  overrideMs: 3000,
};

function router(opts: Partial<PimOptions> = {}) {
  const counts: Record<string, number> = {};
  const r = new PimRouter({ ...OPTS, ...opts }, (c, n = 1) => counts[c] = (counts[c] ?? 0) + n);
  r.setInterfaces([{ name: "eth1", address: "10.0.1.1" }], 0);
  return { r, counts };
}

const hello = (holdtimeS = 105, drPriority: number | undefined = 1, generationId = 5) => ({
  holdtimeS,
  drPriority,
  generationId,
  secondaryAddresses: [],
});
const sg = (address: string) => ({
  address,
  maskLength: 32,
  sparse: true,
  wildcard: false,
  rpt: false,
});
const starG = (rp: string) => ({
  address: rp,
  maskLength: 32,
  sparse: true,
  wildcard: true,
  rpt: true,
});
function jp(
  groups: { group: string; joins?: ReturnType<typeof sg>[]; prunes?: ReturnType<typeof sg>[] }[],
  upstream = "10.0.1.1",
  holdtimeS = 210,
): JoinPrune {
  return {
    upstream,
    holdtimeS,
    groups: groups.map((g) => ({
      group: g.group,
      maskLength: 32,
      joins: g.joins ?? [],
      prunes: g.prunes ?? [],
    })),
  };
}

Deno.test("Hellos go out on enabling and then every hello interval; a new neighbour gets a triggered Hello", () => {
  const { r } = router();
  r.tick(0);
  assert.deepEqual(r.outbox.splice(0), [{ ifname: "eth1", holdtimeS: 105 }]);
  r.tick(29_999);
  assert.equal(r.outbox.length, 0);
  r.receiveHello("eth1", "10.0.1.2", hello(), 30_500);
  assert.equal(r.outbox.splice(0).length, 1, "triggered Hello to the new neighbour");
  r.receiveHello("eth1", "10.0.1.2", hello(), 31_000);
  assert.equal(r.outbox.length, 0, "not for a known one");
  r.tick(30_000 + 1);
  assert.equal(r.outbox.splice(0).length, 1);
});

Deno.test("a neighbour lasts its holdtime; holdtime 0 removes it at once; a new generation id is a restart", () => {
  const { r } = router();
  r.receiveHello("eth1", "10.0.1.2", hello(3), 0);
  assert.equal(r.neighbors(2999).length, 1);
  r.tick(3000);
  assert.equal(r.neighbors(3000).length, 0);
  r.receiveHello("eth1", "10.0.1.2", hello(), 4000);
  r.receiveJoinPrune(
    "eth1",
    "10.0.1.2",
    jp([{ group: "239.1.1.1", joins: [sg("10.5.5.5")] }]),
    4000,
  );
  assert.equal(r.routes(4000).length, 1);
  r.outbox.length = 0;
  assert.equal(
    r.receiveHello("eth1", "10.0.1.2", hello(105, 1, 6), 5000),
    true,
    "its routes went with the restart",
  );
  assert.equal(r.routes(5000).length, 0);
  assert.equal(r.outbox.length, 1, "and it gets a triggered Hello");
  r.receiveHello("eth1", "10.0.1.2", hello(0), 6000);
  assert.equal(r.neighbors(6000).length, 0);
});

Deno.test("DR election (RFC 7761 4.3.2): highest priority, then highest address; without everyone's priority, highest address", () => {
  const { r } = router();
  assert.equal(r.dr("eth1"), "10.0.1.1", "alone: this router");
  r.receiveHello("eth1", "10.0.1.9", hello(105, 1), 0);
  assert.equal(r.dr("eth1"), "10.0.1.9", "equal priority: higher address");
  r.receiveHello("eth1", "10.0.1.2", hello(105, 5), 0);
  assert.equal(r.dr("eth1"), "10.0.1.2", "higher priority wins over address");
  r.receiveHello(
    "eth1",
    "10.0.1.3",
    { holdtimeS: 105, generationId: 1, secondaryAddresses: [] },
    0,
  );
  assert.equal(r.dr("eth1"), "10.0.1.9", "one router without the option: by address only");
});

Deno.test("Joins count only when addressed to this router by a neighbour", () => {
  const { r, counts } = router();
  r.receiveJoinPrune("eth1", "10.0.1.2", jp([{ group: "239.1.1.1", joins: [sg("10.5.5.5")] }]), 0);
  assert.equal(r.routes(0).length, 0, "no Hello from it yet");
  r.receiveHello("eth1", "10.0.1.2", hello(), 0);
  r.receiveJoinPrune(
    "eth1",
    "10.0.1.2",
    jp([{ group: "239.1.1.1", joins: [sg("10.5.5.5")] }], "10.0.1.77"),
    0,
  );
  assert.equal(r.routes(0).length, 0, "for another upstream");
  assert.equal(counts.pim_ignored, 2);
  assert.equal(
    r.receiveJoinPrune(
      "eth1",
      "10.0.1.2",
      jp([{ group: "239.1.1.1", joins: [sg("10.5.5.5")] }]),
      0,
    ),
    true,
  );
  assert.deepEqual(r.routes(1000).map((x) => [x.source, x.group, x.neighbor, x.expires_ms]), [[
    "10.5.5.5",
    "239.1.1.1",
    "10.0.1.2",
    209_000,
  ]]);
  assert.equal(r.tick(210_000), true, "expired after its holdtime");
  assert.equal(r.routes(210_000).length, 0);
});

Deno.test("(*,G) joins are taken for the static RP of G (longest prefix) or this router; other RPs, and (S,G,rpt) entries without a (*,G) route, are ignored", () => {
  const { r, counts } = router({ maxRoutes: 100 });
  r.receiveHello("eth1", "10.0.1.2", hello(), 0);
  assert.equal(r.rpFor("239.1.2.3"), "10.8.8.8");
  assert.equal(r.rpFor("239.2.2.3"), "10.9.9.9");
  assert.equal(r.rpFor("238.2.2.3"), null);
  r.receiveJoinPrune(
    "eth1",
    "10.0.1.2",
    jp([
      { group: "239.1.2.3", joins: [starG("10.8.8.8")] },
      { group: "239.2.2.3", joins: [starG("10.8.8.8")] }, // not its RP
      { group: "238.2.2.3", joins: [starG("10.0.1.1")] }, // this router
      { group: "239.3.3.3", joins: [{ ...sg("10.5.5.5"), rpt: true }] },
    ]),
    0,
  );
  assert.deepEqual(r.routes(0).map((x) => `${x.source} ${x.group}`).sort(), [
    "* 238.2.2.3",
    "* 239.1.2.3",
  ]);
  assert.equal(counts.pim_ignored, 2);
  assert.ok(
    inPrefix("239.255.0.1", "239.0.0.0/8") && !inPrefix("240.0.0.1", "239.0.0.0/8") &&
      inPrefix("1.2.3.4", "0.0.0.0/0"),
  );
});

Deno.test("a Prune removes the route at once with one neighbour; with two it waits the override interval for a Join", () => {
  const { r } = router();
  r.receiveHello("eth1", "10.0.1.2", hello(), 0);
  r.receiveJoinPrune("eth1", "10.0.1.2", jp([{ group: "239.1.1.1", joins: [sg("10.5.5.5")] }]), 0);
  assert.equal(
    r.receiveJoinPrune(
      "eth1",
      "10.0.1.2",
      jp([{ group: "239.1.1.1", prunes: [sg("10.5.5.5")] }]),
      10,
    ),
    true,
  );
  assert.equal(r.routes(10).length, 0);

  r.receiveHello("eth1", "10.0.1.3", hello(), 20);
  r.receiveJoinPrune("eth1", "10.0.1.2", jp([{ group: "239.1.1.1", joins: [sg("10.5.5.5")] }]), 20);
  r.receiveJoinPrune(
    "eth1",
    "10.0.1.2",
    jp([{ group: "239.1.1.1", prunes: [sg("10.5.5.5")] }]),
    100,
  );
  assert.equal(r.routes(100)[0].prune_pending, true);
  r.receiveJoinPrune(
    "eth1",
    "10.0.1.3",
    jp([{ group: "239.1.1.1", joins: [sg("10.5.5.5")] }]),
    1000,
  );
  assert.equal(r.tick(3100), false, "overridden by the other router's Join");
  assert.deepEqual(r.routes(3100).map((x) => [x.neighbor, x.prune_pending]), [["10.0.1.3", false]]);
  r.receiveJoinPrune(
    "eth1",
    "10.0.1.3",
    jp([{ group: "239.1.1.1", prunes: [sg("10.5.5.5")] }]),
    4000,
  );
  assert.equal(r.tick(6999), false);
  assert.equal(r.tick(7000), true, "nobody overrode it");
});

Deno.test("learned routes are bounded by maxRoutes; a refresh of a held route is never refused", () => {
  const { r, counts } = router({ maxRoutes: 2 });
  r.receiveHello("eth1", "10.0.1.2", hello(), 0);
  const groups = ["239.1.1.1", "239.1.1.2", "239.1.1.3"].map((group) => ({
    group,
    joins: [sg("10.5.5.5")],
  }));
  r.receiveJoinPrune("eth1", "10.0.1.2", jp(groups), 0);
  assert.equal(r.routes(0).length, 2);
  assert.equal(counts.pim_routes_refused, 1);
  r.receiveJoinPrune("eth1", "10.0.1.2", jp(groups.slice(0, 2)), 1000);
  assert.equal(counts.pim_routes_refused, 1);
  assert.equal(counts.pim_joins, 4);
});

Deno.test("disabling an interface says goodbye there (holdtime 0) and drops its neighbours' routes", () => {
  const { r } = router();
  r.receiveHello("eth1", "10.0.1.2", hello(), 0);
  r.receiveJoinPrune("eth1", "10.0.1.2", jp([{ group: "239.1.1.1", joins: [sg("10.5.5.5")] }]), 0);
  r.outbox.length = 0;
  assert.equal(r.setInterfaces([], 10), true);
  assert.deepEqual(r.outbox, [{ ifname: "eth1", holdtimeS: 0 }]);
  assert.equal(r.routes(10).length, 0);
  assert.deepEqual(r.interfaces(), []);
});

Deno.test("new options (a DR priority) apply at once with a Hello; neighbours, routes and the generation id stay", () => {
  const { r } = router();
  r.receiveHello("eth1", "10.0.1.2", hello(105, 5), 0);
  r.receiveJoinPrune("eth1", "10.0.1.2", jp([{ group: "239.1.1.1", joins: [sg("10.5.5.5")] }]), 0);
  r.outbox.length = 0;
  assert.equal(r.dr("eth1"), "10.0.1.2");
  r.reconfigure({ ...OPTS, drPriority: 9, generationId: 1234 });
  assert.equal(r.dr("eth1"), "10.0.1.1");
  assert.deepEqual(r.outbox, [{ ifname: "eth1", holdtimeS: 105 }]);
  assert.equal(r.options.generationId, 77, "no restart seen by neighbours");
  assert.equal(r.routes(10).length, 1);
  assert.equal(r.neighbors(10).length, 1);
});

Deno.test("(S,G,rpt) Prunes take S off the (*,G) route; a (*,G) Join without them gives S back; an (S,G,rpt) Join does too; they expire with their holdtime", () => {
  const { r } = router({ maxRoutes: 10 });
  r.receiveHello("eth1", "10.0.1.2", hello(), 0);
  const rpt = (address: string) => ({ ...sg(address), rpt: true });
  const entry = (prunes: ReturnType<typeof sg>[], joins = [starG("10.8.8.8")]) =>
    jp([{ group: "239.1.1.1", joins, prunes }]);
  assert.equal(r.receiveJoinPrune("eth1", "10.0.1.2", entry([rpt("10.5.5.5")]), 0), true);
  assert.deepEqual(r.routes(0).map((x) => [x.source, x.rpt_pruned]), [["*", ["10.5.5.5"]]]);
  r.receiveJoinPrune("eth1", "10.0.1.2", entry([rpt("10.5.5.5")]), 1000);
  assert.deepEqual(r.routes(1000)[0].rpt_pruned, ["10.5.5.5"], "kept while the Joins carry it");
  assert.equal(r.receiveJoinPrune("eth1", "10.0.1.2", entry([]), 2000), true);
  assert.deepEqual(r.routes(2000)[0].rpt_pruned, [], "a (*,G) Join without it gives S back");
  r.receiveJoinPrune("eth1", "10.0.1.2", entry([rpt("10.5.5.5")]), 3000);
  r.receiveJoinPrune(
    "eth1",
    "10.0.1.2",
    jp([{ group: "239.1.1.1", joins: [rpt("10.5.5.5")] }]),
    4000,
  );
  assert.deepEqual(r.routes(4000)[0].rpt_pruned, [], "an (S,G,rpt) Join gives it back too");
  r.receiveJoinPrune(
    "eth1",
    "10.0.1.2",
    jp([{ group: "239.1.1.1", prunes: [rpt("10.5.5.5")] }], "10.0.1.1", 5),
    5000,
  );
  assert.deepEqual(
    r.routes(5000)[0].rpt_pruned,
    ["10.5.5.5"],
    "an (S,G,rpt) Prune alone applies to the (*,G) route there",
  );
  assert.equal(r.tick(10_000), true, "and expires with its holdtime");
  assert.deepEqual(r.routes(10_000)[0].rpt_pruned, []);
});
