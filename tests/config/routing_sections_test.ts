/** The igmp, pim and msdp sections and on_demand outputs: one schema for YAML, API and CLI. */
import assert from "node:assert/strict";
import { ConfigError } from "../../src/config/errors.ts";
import { parseConfigText } from "../../src/config/load.ts";

function issues(yaml: string): string[] {
  try {
    parseConfigText(yaml, "test.yaml");
    return [];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
  }
}

const RULE = `rules:
  - name: a
    input: { interface: eth0, group: 239.1.1.1, port: 5000 }
    outputs: [{ interface: eth1, group: 239.9.9.1, port: 6000, on_demand: true }]
`;

Deno.test("a full routing configuration validates", () => {
  assert.deepEqual(
    issues(`
igmp: { interfaces: [eth1], version: 2, query_interval_ms: 5000, query_response_ms: 1000 }
pim: { interfaces: [eth1, eth2], hello_interval_ms: 1000, hold_time_s: 4, dr_priority: 100, rp: [{ address: 10.0.0.1, groups: 239.0.0.0/8 }] }
msdp: { peers: [{ address: 10.0.0.2, local: 10.0.0.1 }], keepalive_ms: 5000, hold_time_ms: 15000 }
${RULE}`),
    [],
  );
});

Deno.test("an on_demand output needs IGMP or PIM (IPv4 group) or MLD (IPv6 group) on its interface, and l2 egress", () => {
  assert.match(
    issues(RULE).join("\n"),
    /rules\.0\.outputs\.0\.on_demand: on_demand output on eth1: nothing could ask for it there/,
  );
  assert.deepEqual(issues(`pim: { interfaces: [eth1] }\n${RULE}`), []);
  const v6 = RULE.replace("239.9.9.1", '"ff3e::1"').replace("239.1.1.1", '"ff3e::2"');
  assert.match(
    issues(`igmp: { interfaces: [eth1] }\n${v6}`).join("\n"),
    /add the interface to mld\.interfaces/,
    "an IPv6 group is asked for by MLD",
  );
  assert.deepEqual(issues(`mld: { interfaces: [eth1], version: 1 }\n${v6}`), []);
  assert.match(issues(`mld: { interfaces: [eth1], version: 3 }\nrules: []`).join(), /version/);
  assert.match(
    issues(`mld: { interfaces: [eth1] }\n${RULE}`).join(),
    /igmp\.interfaces or pim\.interfaces/,
    "an IPv4 group is not asked for by MLD",
  );
});

Deno.test("timer relations and values are checked: response below interval, holdtime above hello, hold above keepalive", () => {
  assert.match(
    issues(
      `igmp: { interfaces: [eth1], query_interval_ms: 2000, query_response_ms: 2000 }\n${RULE}`,
    ).join(),
    /query_response_ms must be less/,
  );
  assert.match(
    issues(`pim: { interfaces: [eth1], hello_interval_ms: 5000, hold_time_s: 5 }\n${RULE}`).join(),
    /hold_time_s must be longer/,
  );
  assert.match(
    issues(
      `msdp: { peers: [{ address: 10.0.0.2, local: 10.0.0.1 }], keepalive_ms: 5000, hold_time_ms: 5000 }\nrules: []`,
    ).join(),
    /hold_time_ms must be longer/,
  );
  assert.match(
    issues(`igmp: { interfaces: [eth1], robustness: 0 }\nrules: []`).join(),
    /robustness/,
  );
});

Deno.test("addresses and prefixes of the routing sections are checked; unknown keys are refused", () => {
  assert.match(
    issues(
      `pim: { interfaces: [eth1], rp: [{ address: 10.0.0.1, groups: 10.0.0.0/8 }] }\nrules: []`,
    ).join(),
    /IPv4 multicast prefix/,
  );
  assert.match(
    issues(
      `pim: { interfaces: [eth1], rp: [{ address: 239.1.1.1, groups: 239.0.0.0/8 }] }\nrules: []`,
    ).join(),
    /unicast/,
  );
  assert.match(
    issues(`msdp: { peers: [{ address: "2001:db8::1", local: 10.0.0.1 }] }\nrules: []`).join(),
    /IPv4 address/,
  );
  assert.match(
    issues(
      `msdp: { peers: [{ address: 10.0.0.2, local: 10.0.0.1 }, { address: 10.0.0.2, local: 10.0.0.1 }] }\nrules: []`,
    ).join(),
    /duplicate peer/,
  );
  assert.match(issues(`pim: { interfaces: [eth1], bsr: true }\nrules: []`).join(), /bsr/);
});
