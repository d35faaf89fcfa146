import assert from "node:assert/strict";
import type { Config } from "../../src/config/schema.ts";
import { wantedMemberships } from "../../src/supervisor/plan.ts";

const out = [{ interface: "eth2", group: "239.9.9.9", port: 6000 }];
function rule(name: string, group: string, port: number, source?: string, iface = "eth1") {
  return {
    name,
    input: { interface: iface, group, port, ...(source ? { source } : {}) },
    outputs: out,
  };
}

Deno.test("wantedMemberships() joins source-specifically when every rule on a group names one sender", () => {
  const cfg: Config = {
    rules: [rule("a", "239.1.1.1", 5001, "10.0.0.1"), rule("b", "239.1.1.1", 5002, "10.0.0.2/32")],
  };
  assert.deepEqual(wantedMemberships(cfg).get("eth1"), [
    { family: 4, group: "239.1.1.1", source: "10.0.0.1" },
    { family: 4, group: "239.1.1.1", source: "10.0.0.2" },
  ]);
});

Deno.test("wantedMemberships() joins any-source once when a rule on the group takes any sender or a prefix", () => {
  const anySender: Config = {
    rules: [rule("a", "239.1.1.1", 5001, "10.0.0.1"), rule("b", "239.1.1.1", 5002)],
  };
  assert.deepEqual(wantedMemberships(anySender).get("eth1"), [{
    family: 4,
    group: "239.1.1.1",
    source: null,
  }]);
  const prefix: Config = { rules: [rule("a", "239.1.1.1", 5001, "10.0.0.0/24")] };
  assert.deepEqual(wantedMemberships(prefix).get("eth1"), [{
    family: 4,
    group: "239.1.1.1",
    source: null,
  }]);
});

Deno.test("wantedMemberships() keeps interfaces apart and leaves out disabled rules", () => {
  const cfg: Config = {
    rules: [
      rule("a", "239.1.1.1", 5001, undefined, "eth1"),
      rule("b", "239.1.1.1", 5001, "10.0.0.1", "eth3"),
      {
        ...rule("c", "239.1.1.3", 5003),
        enabled: false,
      },
    ],
  };
  const m = wantedMemberships(cfg);
  assert.deepEqual(m.get("eth1"), [{ family: 4, group: "239.1.1.1", source: null }]);
  assert.deepEqual(m.get("eth3"), [{ family: 4, group: "239.1.1.1", source: "10.0.0.1" }]);
  assert.equal(m.size, 2);
});

Deno.test("wantedMemberships() joins IPv6 groups (MLD) in canonical form, source-specifically for one sender", () => {
  const cfg: Config = {
    rules: [
      rule("a", "FF3E:0:0::0:1234", 5001, "2001:DB8::1"),
      rule("b", "ff3e::1234", 5002, "2001:db8:0::2"),
      rule("c", "ff15::9", 5003, "2001:db8::/64"),
    ],
  };
  assert.deepEqual(wantedMemberships(cfg).get("eth1"), [
    { family: 6, group: "ff3e::1234", source: "2001:db8::1" },
    { family: 6, group: "ff3e::1234", source: "2001:db8::2" },
    { family: 6, group: "ff15::9", source: null },
  ]);
});

Deno.test("wantedMemberships() joins nothing for a unicast input", () => {
  const cfg: Config = {
    rules: [{
      name: "u",
      input: { interface: "eth1", address: "10.0.0.9", port: 5001 },
      outputs: out,
    }],
  };
  assert.equal(wantedMemberships(cfg).size, 0);
});
