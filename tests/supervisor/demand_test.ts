/** The configuration the data plane is given, composed with IGMP and PIM demand (src/supervisor/demand.ts). */
import assert from "node:assert/strict";
import { ConfigSchema } from "../../src/config/schema.ts";
import { NO_DEMAND, withDemand } from "../../src/supervisor/demand.ts";

const config = ConfigSchema.parse({
  igmp: { interfaces: ["out1"] },
  pim: { interfaces: ["out1", "out2"] },
  rules: [
    {
      name: "a",
      input: { interface: "in0", group: "239.1.1.1", port: 5000 },
      outputs: [
        { interface: "out0", group: "239.9.9.1", port: 6000, source_ip: "10.0.0.1", ttl: 9 },
        { interface: "out1", group: "239.9.9.1", port: 6000, on_demand: true },
      ],
    },
    {
      name: "b",
      input: { interface: "in0", group: "239.1.1.2", port: 5000 },
      outputs: [{ interface: "out0", group: "239.9.9.2", port: 6000 }],
    },
  ],
});

Deno.test("an on_demand output is left out until its group is present on its link, by IGMP or by a PIM join", () => {
  assert.deepEqual(withDemand(config, NO_DEMAND).config.rules[0].outputs.map((o) => o.interface), [
    "out0",
  ]);
  const igmp = withDemand(config, { igmp: new Map([["out1", new Set(["239.9.9.1"])]]), pim: [] });
  assert.deepEqual(igmp.config.rules[0].outputs.map((o) => o.interface), ["out0", "out1"]);
  const other = withDemand(config, {
    igmp: new Map([["out1", new Set(["239.9.9.7"])], ["out2", new Set(["239.9.9.1"])]]),
    pim: [],
  });
  assert.deepEqual(
    other.config.rules[0].outputs.map((o) => o.interface),
    ["out0"],
    "another group, or the group on another link",
  );
  const pim = withDemand(config, {
    igmp: new Map(),
    pim: [{ interface: "out1", source: "*", group: "239.9.9.1" }],
  });
  assert.deepEqual(pim.config.rules[0].outputs.map((o) => o.interface), ["out0", "out1"]);
  assert.deepEqual(pim.learned, [], "the join is served by the on-demand output: nothing learned");
});

Deno.test("a PIM join on a link without an output for the group adds a learned copy of the rule's output there; rules that do not relay it are untouched", () => {
  const c = withDemand(config, {
    igmp: new Map(),
    pim: [{ interface: "out2", source: "*", group: "239.9.9.1" }],
  });
  assert.deepEqual(c.config.rules[0].outputs.at(-1), {
    interface: "out2",
    group: "239.9.9.1",
    port: 6000,
    ttl: 9,
    source_ip: "10.0.0.1",
    learned: "pim",
  });
  assert.deepEqual(c.learned, [{
    rule: "a",
    interface: "out2",
    group: "239.9.9.1",
    port: 6000,
    source: "*",
  }]);
  assert.equal(c.config.rules[1], config.rules[1], "the same rule object: its plan is reused");
  assert.equal(c.unoffered, 0);
});

Deno.test("an (S,G) join matches only an output whose source_ip is S; a join for a group nothing relays is unoffered", () => {
  const s = withDemand(config, {
    igmp: new Map(),
    pim: [{ interface: "out2", source: "10.0.0.1", group: "239.9.9.1" }],
  });
  assert.equal(s.learned.length, 1);
  const wrong = withDemand(config, {
    igmp: new Map(),
    pim: [{ interface: "out2", source: "10.0.0.9", group: "239.9.9.1" }],
  });
  assert.equal(wrong.learned.length, 0);
  assert.equal(wrong.unoffered, 1);
  const none = withDemand(config, {
    igmp: new Map(),
    pim: [{ interface: "out2", source: "*", group: "239.4.4.4" }],
  });
  assert.equal(none.unoffered, 1);
});

Deno.test("the same demand gives the same composed rule objects (the plan cache hits); no demand and no on_demand output gives the configuration itself", () => {
  const d = { igmp: new Map(), pim: [{ interface: "out2", source: "*", group: "239.9.9.1" }] };
  assert.equal(withDemand(config, d).config.rules[0], withDemand(config, d).config.rules[0]);
  const plain = ConfigSchema.parse({ rules: [config.rules[1]] });
  assert.equal(withDemand(plain, NO_DEMAND).config, plain);
  assert.equal(config.rules[0].outputs.length, 2, "the configuration in force is never changed");
});

Deno.test("learned outputs are bounded by pim.max_learned_routes and never feed a rule's input back", () => {
  const c = ConfigSchema.parse({
    pim: { interfaces: ["in0", "out2", "out3", "out4"], max_learned_routes: 2 },
    rules: [
      {
        name: "a",
        input: { interface: "in0", group: "239.1.1.1", port: 5000 },
        outputs: [{ interface: "out0", group: "239.9.9.1", port: 6000 }],
      },
      {
        name: "loopy",
        input: { interface: "in0", group: "239.9.9.1", port: 6000 },
        outputs: [{ interface: "out0", group: "239.7.7.7", port: 6000 }],
      },
    ],
  });
  const joins = ["in0", "out2", "out3", "out4"].map((i) => ({
    interface: i,
    source: "*",
    group: "239.9.9.1",
  }));
  const r = withDemand(c, { igmp: new Map(), pim: joins });
  assert.deepEqual(
    r.learned.map((o) => o.interface),
    ["out2", "out3"],
    "in0 would feed rule loopy's input; out4 is over the bound",
  );
  assert.equal(r.refused, 2);
});

Deno.test("a (*,G) route with S pruned off it (S,G,rpt) adds no output whose source_ip is S, and keeps an on-demand one for S off", () => {
  const star = { interface: "out2", source: "*", group: "239.9.9.1", except: ["10.0.0.1"] };
  const c = withDemand(config, { igmp: new Map(), pim: [star] });
  assert.equal(c.learned.length, 1);
  assert.equal(
    c.config.rules[0].outputs.at(-1)?.source_ip,
    undefined,
    "the copy made is of the output that does not send S",
  );
  const sOnly = ConfigSchema.parse({
    rules: [{ ...config.rules[0], outputs: [config.rules[0].outputs[0]] }],
  });
  assert.deepEqual(
    withDemand(sOnly, { igmp: new Map(), pim: [star] }).learned,
    [],
    "when every offer sends S, nothing is added",
  );
  const onDemand = withDemand(config, { igmp: new Map(), pim: [{ ...star, interface: "out1" }] });
  assert.deepEqual(
    onDemand.config.rules[0].outputs.map((o) => o.interface),
    ["out0", "out1"],
    "out1's output has no source_ip: not S",
  );
  const sgToo = withDemand(config, {
    igmp: new Map(),
    pim: [star, { interface: "out2", source: "10.0.0.1", group: "239.9.9.1" }],
  });
  assert.equal(sgToo.learned.length, 1, "the (S,G) join still brings S");
});
