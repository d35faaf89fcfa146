/**
 * Config -> worker plan: source filters as (address, mask) int32 pairs, and
 * the whole plan for a two-rule configuration, including rules and outputs
 * that wait for their interfaces.
 */
import assert from "node:assert/strict";
import { type Config, ConfigSchema } from "../../src/config/schema.ts";
import {
  activeRules,
  buildPlan,
  type InterfaceFacts,
  interfacesOf,
  type RuleSlots,
  sourceFilter,
} from "../../src/supervisor/plan.ts";
import { DEFAULT_RATE_PPS, rxGeometry, txGeometry } from "../../src/supervisor/ring_geometry.ts";
import { ipv4 } from "../helpers/frames.ts";
import { rxKey, TTL_DECREMENT } from "../../src/dataplane/plan_types.ts";

const addr = (text: string): number => ipv4(text) | 0;

const v4 = (addr: number, mask: number, length: number) => ({ addr: [addr], mask: [mask], length });

Deno.test("sourceFilter() accepts any sender when no source is given", () => {
  assert.deepEqual(sourceFilter(undefined, 4), v4(0, 0, 0));
  assert.deepEqual(sourceFilter(undefined, 6), {
    addr: [0, 0, 0, 0],
    mask: [0, 0, 0, 0],
    length: 0,
  });
});

Deno.test("sourceFilter() turns one address into a /32 filter", () => {
  assert.deepEqual(sourceFilter("10.0.0.7", 4), v4(addr("10.0.0.7"), -1, 32));
  assert.deepEqual(sourceFilter("192.168.1.1", 4), v4(addr("192.168.1.1"), -1, 32));
});

Deno.test("sourceFilter() masks a prefix's address to its length", () => {
  assert.deepEqual(sourceFilter("10.1.2.3/16", 4), v4(addr("10.1.0.0"), addr("255.255.0.0"), 16));
  assert.deepEqual(
    sourceFilter("192.168.1.0/24", 4),
    v4(addr("192.168.1.0"), addr("255.255.255.0"), 24),
  );
  assert.deepEqual(sourceFilter("10.0.0.9/32", 4), v4(addr("10.0.0.9"), -1, 32));
  assert.deepEqual(
    sourceFilter("172.16.0.0/12", 4),
    v4(addr("172.16.0.0"), addr("255.240.0.0"), 12),
  );
  assert.deepEqual(sourceFilter("128.0.0.1/1", 4), v4(addr("128.0.0.0"), addr("128.0.0.0"), 1));
});

Deno.test("sourceFilter() with /0 accepts any sender", () => {
  assert.deepEqual(sourceFilter("10.1.2.3/0", 4), v4(0, 0, 0));
});

Deno.test("sourceFilter() results match (src & mask) === addr for senders inside and outside", () => {
  const f = sourceFilter("10.20.0.0/14", 4);
  for (const inside of ["10.20.0.1", "10.23.255.255"]) {
    assert.equal(addr(inside) & f.mask[0], f.addr[0], inside);
  }
  for (const outside of ["10.24.0.0", "10.19.255.255", "200.20.0.1"]) {
    assert.notEqual(addr(outside) & f.mask[0], f.addr[0], outside);
  }
});

Deno.test("sourceFilter() masks an IPv6 prefix word by word", () => {
  const f = sourceFilter("2001:db8:ab12:3456::1/40", 6);
  assert.equal(f.length, 40);
  assert.deepEqual(f.mask, [-1, 0xff000000 | 0, 0, 0]);
  assert.deepEqual(f.addr, [0x20010db8, 0xab000000 | 0, 0, 0]);
  const one = sourceFilter("2001:db8::7", 6);
  assert.deepEqual(one.mask, [-1, -1, -1, -1]);
  assert.deepEqual(one.addr, [0x20010db8, 0, 0, 7]);
});

const INTERFACES: InterfaceFacts[] = [
  { name: "in0", ifindex: 2, mtu: 1500, ipv4: ipv4("10.0.0.2"), mac: [2, 0, 0, 0, 0, 2] },
  { name: "out1", ifindex: 3, mtu: 1500, ipv4: ipv4("10.0.1.1"), mac: [2, 0, 0, 0, 1, 1] },
  { name: "out2", ifindex: 4, mtu: 9000, ipv4: ipv4("10.0.2.1"), mac: [2, 0, 0, 0, 2, 1] },
  { name: "bare", ifindex: 5, mtu: 1500, ipv4: 0, mac: [2, 0, 0, 0, 5, 5] },
];

function facts(names: string[] = INTERFACES.map((i) => i.name)): Map<string, InterfaceFacts> {
  return new Map(INTERFACES.filter((i) => names.includes(i.name)).map((i) => [i.name, i]));
}

/** Slots as the supervisor hands them out: rule i gets slot i, outputs numbered in order. */
function slotsFor(config: Config): Map<string, RuleSlots> {
  const slots = new Map<string, RuleSlots>();
  let next = 0;
  activeRules(config).forEach((r, i) => {
    slots.set(r.name, { rule: i, outputs: r.outputs.map(() => next++) });
  });
  return slots;
}

const TWO_RULES: Config = ConfigSchema.parse({
  ring: { retire_ms: 2 },
  rules: [
    {
      name: "cam1",
      input: { interface: "in0", group: "239.1.1.1", port: 5001 },
      outputs: [
        { interface: "out1", group: "239.9.9.9", port: 5099, ttl: 7, dscp: 46 },
        { interface: "out2", group: "239.9.9.10", port: 5100, source_ip: "172.16.0.1" },
      ],
    },
    {
      name: "cam2",
      input: { interface: "in0", group: "239.200.1.2", port: 5002, source: "192.168.7.0/24" },
      outputs: [{ interface: "out1", group: "239.9.9.11", port: 5101 }],
      rate_pps: 50_000,
      allow_fragments: true,
    },
  ],
});

Deno.test("buildPlan() for two rules on one input: one RX ring, one TX ring per output interface, every rule", () => {
  const plan = buildPlan(TWO_RULES, facts(), slotsFor(TWO_RULES), new Map([["in0", 7]]), 3);
  assert.equal(plan.generation, 3);

  assert.deepEqual(plan.rx, [{
    ifname: "in0",
    ifindex: 2,
    // cam2 declares 50,000 and cam1 none: the input is sized for the declared
    // sum, but never below DEFAULT_RATE_PPS.
    geometry: rxGeometry(Math.max(DEFAULT_RATE_PPS, 50_000), 1500, { retire_ms: 2 }),
    fanoutId: 7,
    filter: [
      { family: 4, dst: [addr("239.1.1.1")], port: 5001 },
      { family: 4, dst: [addr("239.200.1.2")], port: 5002 },
    ],
    passFragments: true,
    spread: false,
  }]);

  assert.deepEqual(plan.tx, [
    {
      ifname: "out1",
      ifindex: 3,
      mac: [2, 0, 0, 0, 1, 1],
      mtu: 1500,
      geometry: txGeometry(1500, { retire_ms: 2 }),
    },
    {
      ifname: "out2",
      ifindex: 4,
      mac: [2, 0, 0, 0, 2, 1],
      mtu: 9000,
      geometry: txGeometry(9000, { retire_ms: 2 }),
    },
  ]);

  assert.deepEqual(plan.rules, [
    {
      name: "cam1",
      slot: 0,
      inputIfindex: 2,
      family: 4,
      dst: [addr("239.1.1.1")],
      port: 5001,
      srcAddr: [0],
      srcMask: [0],
      srcPrefix: 0,
      protocol: 17,
      vlan: 0,
      spread: false,
      allowFragments: false,
      outputs: [
        {
          egress: "l2",
          ifindex: 3,
          slot: 0,
          family: 4,
          dst: [addr("239.9.9.9")],
          port: 5099,
          src: [addr("10.0.1.1")],
          hasSrc: false,
          ttl: 7,
          tos: 46 << 2,
          maxPayload: 1500,
          vlan: 0,
        },
        {
          egress: "l2",
          ifindex: 4,
          slot: 1,
          family: 4,
          dst: [addr("239.9.9.10")],
          port: 5100,
          src: [addr("172.16.0.1")],
          hasSrc: true,
          ttl: TTL_DECREMENT,
          tos: -1,
          maxPayload: 1500,
          vlan: 0,
        },
      ],
    },
    {
      name: "cam2",
      slot: 1,
      inputIfindex: 2,
      family: 4,
      dst: [addr("239.200.1.2")],
      port: 5002,
      srcAddr: [addr("192.168.7.0")],
      srcMask: [addr("255.255.255.0")],
      srcPrefix: 24,
      protocol: 17,
      vlan: 0,
      spread: false,
      allowFragments: true,
      outputs: [
        {
          egress: "l2",
          ifindex: 3,
          slot: 2,
          family: 4,
          dst: [addr("239.9.9.11")],
          port: 5101,
          src: [addr("10.0.1.1")],
          hasSrc: false,
          ttl: TTL_DECREMENT,
          tos: -1,
          maxPayload: 1500,
          vlan: 0,
        },
      ],
    },
  ]);
});

Deno.test("buildPlan() stores every address as int32, the form parseFrame() reads", () => {
  const plan = buildPlan(TWO_RULES, facts(), slotsFor(TWO_RULES), new Map(), 1);
  for (const r of plan.rules) {
    for (
      const n of [
        ...r.dst,
        ...r.srcAddr,
        ...r.srcMask,
        ...r.outputs.flatMap((o) => [...o.dst, ...o.src]),
      ]
    ) {
      assert.equal(n, n | 0, `${n} is not an int32`);
    }
  }
  assert.equal(plan.rx[0].fanoutId, 0, "no fanout id: a single worker");
});

Deno.test("buildPlan() adds the declared rates of the rules sharing an input", () => {
  const config = ConfigSchema.parse({
    rules: [
      {
        name: "a",
        input: { interface: "in0", group: "239.1.1.1", port: 1 },
        outputs: [{ interface: "out1", group: "239.2.2.2", port: 1 }],
        rate_pps: 300_000,
      },
      {
        name: "b",
        input: { interface: "in0", group: "239.1.1.2", port: 1 },
        outputs: [{ interface: "out1", group: "239.2.2.3", port: 1 }],
        rate_pps: 200_000,
      },
    ],
  });
  const plan = buildPlan(config, facts(), slotsFor(config), new Map(), 1);
  assert.deepEqual(plan.rx[0].geometry, rxGeometry(500_000, 1500));
});

Deno.test("buildPlan() leaves out a rule whose input interface is absent, and a disabled rule", () => {
  const config = ConfigSchema.parse({
    rules: [
      {
        name: "waits",
        input: { interface: "gone0", group: "239.1.1.1", port: 1 },
        outputs: [{ interface: "out1", group: "239.2.2.2", port: 1 }],
      },
      {
        name: "off",
        enabled: false,
        input: { interface: "in0", group: "239.1.1.2", port: 1 },
        outputs: [{ interface: "out1", group: "239.2.2.3", port: 1 }],
      },
      {
        name: "runs",
        input: { interface: "in0", group: "239.1.1.3", port: 1 },
        outputs: [{ interface: "out2", group: "239.2.2.4", port: 1 }],
      },
    ],
  });
  const plan = buildPlan(config, facts(), slotsFor(config), new Map(), 1);
  assert.deepEqual(plan.rules.map((r) => r.name), ["runs"]);
  assert.deepEqual(plan.rx.map((r) => r.ifname), ["in0"]);
  assert.deepEqual(plan.tx.map((t) => t.ifname), ["out2"]);
  assert.deepEqual(interfacesOf(config), { inputs: ["gone0", "in0"], outputs: ["out1", "out2"] });
});

Deno.test("buildPlan() plans a rule whose on-demand outputs nobody asks for (no outputs): its input is read and counted", () => {
  const config = ConfigSchema.parse({
    igmp: { interfaces: ["out1"] },
    rules: [{
      name: "r",
      input: { interface: "in0", group: "239.1.1.1", port: 1 },
      outputs: [{ interface: "out1", group: "239.2.2.1", port: 1, on_demand: true }],
    }],
  });
  const idle = { ...config, rules: [{ ...config.rules[0], outputs: [] }] }; // as withDemand() composes it
  const plan = buildPlan(idle, facts(), slotsFor(idle), new Map(), 1);
  assert.deepEqual(plan.rules.map((r) => [r.name, r.outputs.length]), [["r", 0]]);
  assert.deepEqual(plan.rx.map((r) => r.ifname), ["in0"]);
  assert.deepEqual(plan.tx, []);
});

Deno.test("buildPlan() leaves out an l2 output whose interface is absent even when it sets source_ip (it used to crash the plan)", () => {
  const config = ConfigSchema.parse({
    rules: [{
      name: "r",
      input: { interface: "in0", group: "239.1.1.1", port: 1 },
      outputs: [
        { interface: "gone0", group: "239.2.2.1", port: 1, source_ip: "10.5.5.5" },
        { interface: "out1", group: "239.2.2.2", port: 2 },
      ],
    }],
  });
  const plan = buildPlan(config, facts(), slotsFor(config), new Map(), 1);
  assert.deepEqual(plan.rules[0].outputs.map((o) => o.port), [2]);
  assert.deepEqual(plan.tx.map((t) => t.ifname), ["out1"]);
});

Deno.test("buildPlan() leaves out an output without an IPv4 address or source_ip and keeps the others' slots", () => {
  const config = ConfigSchema.parse({
    rules: [{
      name: "r",
      input: { interface: "in0", group: "239.1.1.1", port: 1 },
      outputs: [
        { interface: "bare", group: "239.2.2.1", port: 1 },
        { interface: "out1", group: "239.2.2.2", port: 2 },
        { interface: "bare", group: "239.2.2.3", port: 3, source_ip: "10.5.5.5" },
        { interface: "gone0", group: "239.2.2.4", port: 4 },
      ],
    }],
  });
  const slots = new Map([["r", { rule: 4, outputs: [10, 11, 12, 13] }]]);
  const plan = buildPlan(config, facts(), slots, new Map(), 1);
  assert.deepEqual(plan.rules[0].outputs.map((o) => [o.slot, o.port, o.src]), [
    [11, 2, [addr("10.0.1.1")]],
    [12, 3, [addr("10.5.5.5")]],
  ]);
  assert.deepEqual(plan.tx.map((t) => t.ifname).sort(), ["bare", "out1"]);
});

Deno.test("buildPlan() leaves out a rule none of whose outputs is usable", () => {
  const config = ConfigSchema.parse({
    rules: [{
      name: "r",
      input: { interface: "in0", group: "239.1.1.1", port: 1 },
      outputs: [{ interface: "bare", group: "239.2.2.1", port: 1 }],
    }],
  });
  const plan = buildPlan(config, facts(), slotsFor(config), new Map(), 1);
  assert.deepEqual(plan, {
    generation: 1,
    rx: [],
    tx: [],
    rules: [],
    busyPollUs: 0,
    napUs: 50,
    workerCount: 1,
    workerCpus: [],
    workerPriority: 0,
  });
});

Deno.test("buildPlan() names the rule that has no counter slot", () => {
  assert.throws(
    () => buildPlan(TWO_RULES, facts(), new Map(), new Map(), 1),
    /rule "cam1" has no counter slot/,
  );
});

Deno.test("buildPlan() sizes an input for its rules together: nine rules without rate_pps build the ring one does", () => {
  const rule = (i: number) => ({
    name: `r${i}`,
    input: { interface: "in0", group: `239.1.1.${i + 1}`, port: 5000 + i },
    outputs: [{ interface: "out1", group: `239.9.9.${i + 1}`, port: 6000 + i }],
  });
  const one: Config = { rules: [rule(0)] };
  const nine: Config = { rules: Array.from({ length: 9 }, (_, i) => rule(i)) };
  const a = buildPlan(one, facts(), slotsFor(one), new Map(), 1).rx[0].geometry;
  const b = buildPlan(nine, facts(), slotsFor(nine), new Map(), 1).rx[0].geometry;
  assert.deepEqual(b, a);
  assert.ok(b.bytes <= 64 * 2 ** 20, `${b.bytes} bytes: no 256 MiB rings for a handful of rules`);
});

Deno.test("buildPlan() hands every worker the whole worker_cpus list (worker i takes entry i mod length); none when unset", () => {
  assert.deepEqual(
    buildPlan(
      { ...TWO_RULES, worker_cpus: [2, 3] },
      facts(),
      slotsFor(TWO_RULES),
      new Map([["in0", 7]]),
      1,
    ).workerCpus,
    [2, 3],
  );
  assert.deepEqual(
    buildPlan(TWO_RULES, facts(), slotsFor(TWO_RULES), new Map([["in0", 7]]), 1).workerCpus,
    [],
  );
});

Deno.test("buildPlan() hands every worker worker_priority; 0 (the ordinary policy) when unset", () => {
  const plan = (c: Config) => buildPlan(c, facts(), slotsFor(c), new Map([["in0", 7]]), 1);
  assert.equal(plan({ ...TWO_RULES, worker_priority: 10 }).workerPriority, 10);
  assert.equal(plan(TWO_RULES).workerPriority, 0);
});

Deno.test("buildPlan() gives a spread rule an RX ring of its own, in no fanout group and passing only its stream, when more than one worker runs; with one worker spread changes nothing", () => {
  const rules = [
    {
      name: "big",
      spread: true,
      input: { interface: "in0", group: "239.1.1.1", port: 5001 },
      outputs: [0, 1, 2].map((i) => ({ interface: "out1", group: `239.9.9.${i + 1}`, port: 6000 })),
    },
    {
      name: "small",
      input: { interface: "in0", group: "239.1.1.2", port: 5002 },
      outputs: [{ interface: "out1", group: "239.9.8.1", port: 6000 }],
    },
  ];
  const two = ConfigSchema.parse({ workers: 2, rules });
  const plan = buildPlan(two, facts(), slotsFor(two), new Map([["in0", 9]]), 1);
  assert.equal(plan.workerCount, 2);
  assert.equal(plan.rx.length, 2);
  const shared = plan.rx.find((r) => !r.spread)!;
  const spread = plan.rx.find((r) => r.spread)!;
  assert.equal(shared.fanoutId, 9);
  assert.equal(spread.fanoutId, 0, "every worker reads the spread ring");
  assert.deepEqual(shared.filter, [{ family: 4, dst: [addr("239.1.1.2")], port: 5002 }]);
  assert.deepEqual(spread.filter, [{ family: 4, dst: [addr("239.1.1.1")], port: 5001 }]);
  assert.deepEqual(plan.rules.map((r) => r.spread), [true, false]);
  assert.notEqual(rxKey(spread.ifindex, spread.spread), rxKey(shared.ifindex, shared.spread));

  const one = ConfigSchema.parse({ workers: 1, rules });
  const single = buildPlan(one, facts(), slotsFor(one), new Map(), 1);
  assert.equal(single.rx.length, 1, "one worker: one ring for both rules");
  assert.deepEqual(single.rules.map((r) => r.spread), [false, false]);
});
