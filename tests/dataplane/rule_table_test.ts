/**
 * The compiled rule table: Map keys that stay small integers, chains for
 * keys that collide, most specific source first, and the fragment map.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  buildChains,
  fragmentKey,
  matchFragment,
  matchRule,
  Rule,
  ruleKey,
} from "../../src/dataplane/rule_table.ts";
import { multicastMac, parseIp } from "../../src/net/address.ts";
import { buildTables } from "../../src/dataplane/tables.ts";
import { type RulePlan, rxKey, type WorkerPlan } from "../../src/dataplane/plan_types.ts";
import { FakeArena, planFor } from "../helpers/fake_ring.ts";
import { ipv4 } from "../helpers/frames.ts";

/** A rule as tables.ts builds it; addresses as int32, source as "a.b.c.d/len" or undefined. */
function rule(
  slot: number,
  group: string,
  port: number,
  source?: string,
  allowFragments = false,
): Rule {
  let addr = 0, mask = 0;
  if (source !== undefined) {
    const [a, len] = source.split("/");
    const bits = len === undefined ? 32 : Number(len);
    mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) | 0;
    addr = ipv4(a) & mask;
  }
  const prefix = source === undefined ? 0 : Number(source.split("/")[1] ?? 32);
  const none = new Int32Array(0);
  return new Rule(
    slot,
    4,
    ipv4(group) | 0,
    port,
    addr,
    mask,
    none,
    none,
    none,
    prefix,
    allowFragments,
    [],
  );
}

function table(rules: Rule[]): Map<number, Rule> {
  return buildChains(rules, (r) => ruleKey(r.family, r.group, r.port), "next");
}

function fragmentTable(rules: Rule[]): Map<number, Rule> {
  return buildChains(
    rules.filter((r) => r.allowFragments),
    (r) => fragmentKey(r.family, r.group),
    "nextFragment",
  );
}

/** IPv4 lookups read no packet bytes: the view and offset are not used. */
const NO_VIEW = new DataView(new ArrayBuffer(64));
const match4 = (t: Map<number, Rule>, group: number, port: number, src: number): Rule | null =>
  matchRule(t, 4, group, port, src, NO_VIEW, 0);
const matchFragment4 = (t: Map<number, Rule>, group: number, src: number): Rule | null =>
  matchFragment(t, 4, group, src, NO_VIEW, 0);

const addr = (text: string): number => ipv4(text) | 0;

Deno.test("ruleKey() and fragmentKey() stay non-negative small integers (< 2^30) for every group and port", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.integer({ min: 0, max: 0xffff }),
      (g, port) => {
        for (const group of [g | 0, g >>> 0]) {
          const k = ruleKey(4, group, port);
          assert.ok(
            Number.isInteger(k) && k >= 0 && k < 2 ** 30,
            `ruleKey(${group}, ${port}) = ${k}`,
          );
          const f = fragmentKey(4, group);
          assert.ok(Number.isInteger(f) && f >= 0 && f < 2 ** 30, `fragmentKey(${group}) = ${f}`);
        }
      },
    ),
  );
});

Deno.test("matchRule() finds a rule by exact group and port and nothing else", () => {
  const t = table([rule(0, "239.1.1.1", 5001)]);
  assert.equal(match4(t, addr("239.1.1.1"), 5001, addr("10.0.0.1"))?.slot, 0);
  assert.equal(match4(t, addr("239.1.1.1"), 5002, addr("10.0.0.1")), null);
  assert.equal(match4(t, addr("239.1.1.2"), 5001, addr("10.0.0.1")), null);
});

Deno.test("matchRule() tells apart groups that share the low 14 bits (one Map key, one chain)", () => {
  // 239.1.0.1, 239.1.64.1 and 239.2.0.1 all have group & 0x3fff === 1.
  const groups = ["239.1.0.1", "239.1.64.1", "239.2.0.1", "224.0.0.1"];
  for (const g of groups) {
    assert.equal(ruleKey(4, addr(g), 5000), ruleKey(4, addr(groups[0]), 5000));
  }
  const rules = groups.slice(0, 3).map((g, i) => rule(i, g, 5000));
  const t = table(rules);
  assert.equal(t.size, 1, "all three share one key");
  groups.slice(0, 3).forEach((g, i) =>
    assert.equal(match4(t, addr(g), 5000, addr("10.0.0.1"))?.slot, i, g)
  );
  assert.equal(match4(t, addr("224.0.0.1"), 5000, addr("10.0.0.1")), null, "same key, no rule");
});

Deno.test("matchRule() applies a source filter: one sender, a prefix, or any", () => {
  const t = table([
    rule(0, "239.1.1.1", 5001, "10.0.0.7"),
    rule(1, "239.1.1.2", 5001, "10.1.0.0/16"),
  ]);
  assert.equal(match4(t, addr("239.1.1.1"), 5001, addr("10.0.0.7"))?.slot, 0);
  assert.equal(match4(t, addr("239.1.1.1"), 5001, addr("10.0.0.8")), null);
  assert.equal(match4(t, addr("239.1.1.2"), 5001, addr("10.1.200.3"))?.slot, 1);
  assert.equal(match4(t, addr("239.1.1.2"), 5001, addr("10.2.0.1")), null);
});

Deno.test("matchRule() matches a source filter on senders at and above 128.0.0.0", () => {
  const t = table([
    rule(0, "239.1.1.1", 5001, "192.168.0.0/16"),
    rule(1, "239.1.1.1", 5001, "200.1.2.3"),
  ]);
  assert.equal(match4(t, addr("239.1.1.1"), 5001, addr("192.168.4.4"))?.slot, 0);
  assert.equal(match4(t, addr("239.1.1.1"), 5001, addr("200.1.2.3"))?.slot, 1);
  assert.equal(match4(t, addr("239.1.1.1"), 5001, addr("200.1.2.4")), null);
});

Deno.test("matchRule() prefers the most specific source, whatever the order rules were given in", () => {
  const any = rule(0, "239.1.1.1", 5001);
  const net16 = rule(1, "239.1.1.1", 5001, "10.0.0.0/16");
  const net24 = rule(2, "239.1.1.1", 5001, "10.0.1.0/24");
  const host = rule(3, "239.1.1.1", 5001, "10.0.1.9");
  const orders = [[any, net16, net24, host], [host, net24, net16, any], [net24, any, host, net16]];
  for (const order of orders) {
    const t = table(order.map((r) => rule(r.slot, "239.1.1.1", 5001, sourceOf(r))));
    assert.equal(match4(t, addr("239.1.1.1"), 5001, addr("10.0.1.9"))?.slot, 3, "(S,G) wins");
    assert.equal(match4(t, addr("239.1.1.1"), 5001, addr("10.0.1.10"))?.slot, 2, "/24 next");
    assert.equal(match4(t, addr("239.1.1.1"), 5001, addr("10.0.2.1"))?.slot, 1, "/16 next");
    assert.equal(match4(t, addr("239.1.1.1"), 5001, addr("192.0.2.1"))?.slot, 0, "(*,G) last");
  }
});

/** The "a.b.c.d/len" a test rule was made from (inverse of rule()'s parsing). */
function sourceOf(r: Rule): string | undefined {
  if (r.srcMask === 0) return undefined;
  let len = 0;
  for (let m = r.srcMask >>> 0; m & 0x80000000; m = (m << 1) >>> 0) len++;
  const a = r.srcAddr >>> 0;
  return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}/${len}`;
}

Deno.test("matchRule() keeps specificity order inside a chain of colliding groups", () => {
  const t = table([
    rule(0, "239.1.0.1", 5000), // (*,G1)
    rule(1, "239.2.0.1", 5000, "10.0.0.1"), // (S,G2), same key as G1
    rule(2, "239.1.0.1", 5000, "10.0.0.1"), // (S,G1)
  ]);
  assert.equal(match4(t, addr("239.1.0.1"), 5000, addr("10.0.0.1"))?.slot, 2);
  assert.equal(match4(t, addr("239.1.0.1"), 5000, addr("10.0.0.2"))?.slot, 0);
  assert.equal(match4(t, addr("239.2.0.1"), 5000, addr("10.0.0.1"))?.slot, 1);
  assert.equal(match4(t, addr("239.2.0.1"), 5000, addr("10.0.0.2")), null);
});

Deno.test("matchFragment() finds only rules that allow fragments, by group and source", () => {
  const rules = [
    rule(0, "239.1.1.1", 5001, undefined, true),
    rule(1, "239.1.1.2", 5001, undefined, false),
    rule(2, "239.1.1.3", 5001, "10.0.0.5", true),
  ];
  const f = fragmentTable(rules);
  assert.equal(matchFragment4(f, addr("239.1.1.1"), addr("10.9.9.9"))?.slot, 0);
  assert.equal(
    matchFragment4(f, addr("239.1.1.2"), addr("10.9.9.9")),
    null,
    "rule does not allow fragments",
  );
  assert.equal(matchFragment4(f, addr("239.1.1.3"), addr("10.0.0.5"))?.slot, 2);
  assert.equal(
    matchFragment4(f, addr("239.1.1.3"), addr("10.0.0.6")),
    null,
    "source filter applies",
  );
});

Deno.test("matchFragment() compares the full group when keys collide in the low 30 bits", () => {
  // 239.1.1.1 = 0xef010101 and 0x2f010101 (47.1.1.1) differ only in the top two bits.
  const f = fragmentTable([rule(0, "239.1.1.1", 5001, undefined, true)]);
  assert.equal(fragmentKey(4, addr("47.1.1.1")), fragmentKey(4, addr("239.1.1.1")));
  assert.equal(matchFragment4(f, addr("47.1.1.1"), addr("10.0.0.1")), null);
});

Deno.test("multicastMac() is 01:00:5e followed by an IPv4 group's low 23 bits", () => {
  const mac = (t: string) => [...multicastMac(parseIp(t)!)];
  assert.deepEqual(mac("239.1.1.1"), [0x01, 0x00, 0x5e, 0x01, 0x01, 0x01]);
  assert.deepEqual(mac("239.129.1.1"), [0x01, 0x00, 0x5e, 0x01, 0x01, 0x01]);
  assert.deepEqual(mac("224.255.254.253"), [
    0x01,
    0x00,
    0x5e,
    0x7f,
    0xfe,
    0xfd,
  ]);
});

Deno.test("buildTables() splits rules by input interface and puts only fragment-allowing rules in the fragment map", () => {
  const rulePlan = (
    name: string,
    slot: number,
    input: number,
    group: string,
    allowFragments: boolean,
  ): RulePlan => ({
    name,
    slot,
    inputIfindex: input,
    family: 4,
    dst: [ipv4(group) | 0],
    port: 5001,
    srcAddr: [0],
    srcMask: [0],
    srcPrefix: 0,
    allowFragments,
    outputs: [{
      egress: "l2",
      ifindex: 9,
      slot,
      family: 4,
      dst: [ipv4("239.9.9.9") | 0],
      port: 5099,
      src: [ipv4("10.0.9.1") | 0],
      hasSrc: false,
      ttl: 64,
      tos: -1,
      maxPayload: 1500,
    }],
  });
  const rxGeometry = {
    frames: false,
    blockSize: 65536,
    blockCount: 4,
    frameSize: 2048,
    retireMs: 1,
    bytes: 262144,
  };
  const txGeometry = { frameSize: 2048, frameCount: 64, bytes: 131072, qdiscBypass: false };
  const plan: WorkerPlan = {
    generation: 1,
    rx: [
      {
        ifname: "in1",
        ifindex: 1,
        geometry: rxGeometry,
        fanoutId: 0,
        filter: [],
        passFragments: true,
      },
      {
        ifname: "in2",
        ifindex: 2,
        geometry: rxGeometry,
        fanoutId: 0,
        filter: [],
        passFragments: false,
      },
    ],
    tx: [{ ifname: "out", ifindex: 9, mac: [2, 0, 0, 0, 0, 9], mtu: 1500, geometry: txGeometry }],
    rules: [
      rulePlan("a", 0, 1, "239.1.1.1", true),
      rulePlan("b", 1, 1, "239.1.1.2", false),
      rulePlan("c", 2, 2, "239.1.1.3", false),
    ],
  };
  const arena = new FakeArena([{ ifindex: 1 }, { ifindex: 2 }], [{ ifindex: 9 }]);
  const { inputs, txPorts } = buildTables(plan, arena.rxRefs(), arena.txRefs());
  assert.deepEqual(inputs.map((i) => i.ifindex), [1, 2]);
  assert.equal(inputs[0].rules.size, 2);
  assert.equal(inputs[1].rules.size, 1);
  assert.deepEqual([...inputs[0].fragmentRules.values()].map((r) => r.slot), [0]);
  assert.equal(inputs[1].fragmentRules.size, 0);
  assert.equal(txPorts.length, 1);
  assert.equal(txPorts[0].maxFrame, 1514, "min(frame data area 2016, MTU 1500 + 14)");
  const a = match4(inputs[0].rules, ipv4("239.1.1.1") | 0, 5001, 1);
  assert.equal(a?.outputs[0].tx, txPorts[0], "outputs share the TxPort of their interface");
  assert.equal(
    match4(inputs[1].rules, ipv4("239.1.1.1") | 0, 5001, 1),
    null,
    "rule a is not on input 2",
  );
});

Deno.test("buildTables() shares a spread rule's outputs out by position among the workers; only worker 0 counts the rule; the rule sits on the spread ring's port", () => {
  const plan = planFor({
    workers: 2,
    rules: [{
      name: "big",
      spread: true,
      input: { interface: "in0", group: "239.1.1.1", port: 5001 },
      outputs: [0, 1, 2, 3, 4].map((i) => ({
        interface: "out1",
        group: `239.9.9.${i + 1}`,
        port: 6000,
      })),
    }],
  });
  assert.equal(plan.rx.length, 1);
  assert.equal(plan.rx[0].spread, true);
  const key = rxKey(plan.rx[0].ifindex, true);
  const arena = new FakeArena(
    [{ ifindex: plan.rx[0].ifindex }],
    plan.tx.map((t) => ({ ifindex: t.ifindex, frameSize: t.geometry.frameSize })),
  );
  const rxRefs = new Map([...arena.rxRefs()].map(([, ring]) => [key, ring]));
  const shares = [0, 1].map((index) =>
    buildTables(plan, rxRefs, arena.txRefs(), undefined, undefined, new Map(), { index, count: 2 })
  );
  const ruleOf = (t: (typeof shares)[number]) => [...t.inputs[0].rules.values()][0];
  assert.deepEqual(ruleOf(shares[0]).outputs.map((o) => o.slot), [0, 2, 4]);
  assert.deepEqual(ruleOf(shares[1]).outputs.map((o) => o.slot), [1, 3]);
  assert.deepEqual(shares.map((t) => ruleOf(t).counted), [true, false]);
  assert.deepEqual(shares.map((t) => t.inputs[0].key), [key, key]);
});
