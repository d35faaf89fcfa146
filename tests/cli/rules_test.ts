/** `mcr rules add --out ...`: the output spec forms and their errors. */
import assert from "node:assert/strict";
import { parseOutput } from "../../src/cli/rules.ts";

Deno.test("parseOutput() reads IFACE:GROUP:PORT[:TTL], with an IPv6 group in brackets", () => {
  assert.deepEqual(parseOutput("eth2:239.9.9.9:5099"), {
    interface: "eth2",
    group: "239.9.9.9",
    port: 5099,
  });
  assert.deepEqual(parseOutput("eth2:[ff3e::9]:5099:7"), {
    interface: "eth2",
    group: "ff3e::9",
    port: 5099,
    ttl: 7,
  });
});

Deno.test("parseOutput() reads key=value pairs for routed outputs", () => {
  assert.deepEqual(parseOutput("egress=routed,address=2001:db8::9,port=5000,ttl=9"), {
    egress: "routed",
    address: "2001:db8::9",
    port: 5000,
    ttl: 9,
  });
});

Deno.test("parseOutput() errors name the field", () => {
  assert.throws(() => parseOutput("eth2:10.0.0.1:5000"), /group: must be an IPv4 multicast group/);
  assert.throws(
    () => parseOutput("address=10.0.0.9,port=5000"),
    /address: a unicast address needs egress/,
  );
  assert.throws(() => parseOutput("egress=routed,address=10.0.0.9,port=0"), /port: /);
  assert.throws(() => parseOutput("egress=routed,address"), /must be key=value/);
});
