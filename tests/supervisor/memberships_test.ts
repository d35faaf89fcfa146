import assert from "node:assert/strict";
import type { Config } from "../../src/config/schema.ts";
import { wantedMemberships } from "../../src/supervisor/plan.ts";
import { ipv4 } from "../helpers/frames.ts";

const out = [{ interface: "eth2", group: "239.9.9.9", port: 6000 }];
function rule(name: string, group: string, port: number, source?: string, iface = "eth1") {
  return { name, input: { interface: iface, group, port, ...(source ? { source } : {}) }, outputs: out };
}

Deno.test("wantedMemberships() joins source-specifically when every rule on a group names one sender", () => {
  const cfg: Config = { rules: [rule("a", "239.1.1.1", 5001, "10.0.0.1"), rule("b", "239.1.1.1", 5002, "10.0.0.2/32")] };
  assert.deepEqual(wantedMemberships(cfg).get("eth1"), [
    { group: ipv4("239.1.1.1"), source: ipv4("10.0.0.1") },
    { group: ipv4("239.1.1.1"), source: ipv4("10.0.0.2") },
  ]);
});

Deno.test("wantedMemberships() joins any-source once when a rule on the group takes any sender or a prefix", () => {
  const anySender: Config = { rules: [rule("a", "239.1.1.1", 5001, "10.0.0.1"), rule("b", "239.1.1.1", 5002)] };
  assert.deepEqual(wantedMemberships(anySender).get("eth1"), [{ group: ipv4("239.1.1.1"), source: 0 }]);
  const prefix: Config = { rules: [rule("a", "239.1.1.1", 5001, "10.0.0.0/24")] };
  assert.deepEqual(wantedMemberships(prefix).get("eth1"), [{ group: ipv4("239.1.1.1"), source: 0 }]);
});

Deno.test("wantedMemberships() keeps interfaces apart and leaves out disabled rules", () => {
  const cfg: Config = {
    rules: [rule("a", "239.1.1.1", 5001, undefined, "eth1"), rule("b", "239.1.1.1", 5001, "10.0.0.1", "eth3"), {
      ...rule("c", "239.1.1.3", 5003),
      enabled: false,
    }],
  };
  const m = wantedMemberships(cfg);
  assert.deepEqual(m.get("eth1"), [{ group: ipv4("239.1.1.1"), source: 0 }]);
  assert.deepEqual(m.get("eth3"), [{ group: ipv4("239.1.1.1"), source: ipv4("10.0.0.1") }]);
  assert.equal(m.size, 2);
});
