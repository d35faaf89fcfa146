/** What the interface tracker says of a change: exactly what changed, and no false address alarm on a link flap. */
import assert from "node:assert/strict";
import { interfaceChange } from "../../src/supervisor/interfaces.ts";
import type { InterfaceFacts } from "../../src/supervisor/plan.ts";

const BASE: InterfaceFacts = {
  name: "eth1",
  ifindex: 4,
  mtu: 1500,
  ipv4: 0x0a000001,
  ipv6: [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
  mac: [2, 0, 0, 0, 0, 1],
};

Deno.test("interfaceChange() names exactly what changed: the address (with its old and new value), the MAC, the MTU, the index", () => {
  assert.equal(interfaceChange(BASE, { ...BASE }), null);
  assert.equal(
    interfaceChange(BASE, { ...BASE, ipv6: null }),
    "changed IPv6 address fe80::1 -> none",
  );
  assert.equal(
    interfaceChange(BASE, { ...BASE, ipv4: 0x0a000002, mac: [2, 0, 0, 0, 0, 0xab] }),
    "changed IPv4 address 10.0.0.1 -> 10.0.0.2, MAC 02:00:00:00:00:01 -> 02:00:00:00:00:ab",
  );
  assert.equal(interfaceChange(BASE, { ...BASE, mtu: 9000 }), "changed MTU 1500 -> 9000");
  assert.equal(interfaceChange(BASE, { ...BASE, ifindex: 5 }), "was re-created");
  assert.equal(interfaceChange(undefined, BASE), "appeared");
  assert.equal(interfaceChange(BASE, undefined), "disappeared");
});
