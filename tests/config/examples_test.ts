import assert from "node:assert/strict";
import { loadConfigFile } from "../../src/config/load.ts";

Deno.test("examples/mcr.yaml, which documents every option, is a valid configuration", async () => {
  const config = await loadConfigFile(new URL("../../examples/mcr.yaml", import.meta.url).pathname);
  assert.equal(config.rules[0].name, "cam1");
  assert.deepEqual(config.rules[0].outputs.map((o) => o.egress ?? "l2"), ["l2", "l2", "l2", "routed"]);
  assert.deepEqual(config.rules.map((r) => r.name), ["cam1", "v6-ssm", "from-unicast", "ipsec", "trunk-vlan-100"]);
  assert.equal(config.rules[3].input.protocol, "esp");
  assert.equal(config.rules[4].input.vlan, 100);
  assert.equal(config.rules[4].outputs[0].vlan, 200);
  assert.equal(config.rules[2].input.address, "10.0.0.2");
});
