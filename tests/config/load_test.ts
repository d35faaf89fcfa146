import assert from "node:assert/strict";
import { ConfigError } from "../../src/config/errors.ts";
import { loadConfigFile, parseConfigText } from "../../src/config/load.ts";

const GOOD = `rules:
  - name: cam1
    input: { interface: eth1, group: 239.1.1.1, port: 5001, source: 10.0.0.0/24 }
    outputs:
      - { interface: eth2, group: 239.9.9.9, port: 5099, ttl: 8, dscp: 46 }
`;

function issues(text: string): string[] {
  try {
    parseConfigText(text, "test.yaml");
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.describe();
  }
  assert.fail("the config was accepted");
}

Deno.test("parseConfigText() accepts a valid config", () => {
  const c = parseConfigText(GOOD, "test.yaml");
  assert.equal(c.rules[0].outputs[0].dscp, 46);
});

Deno.test("config errors name the field: unknown keys, bad addresses, non-multicast groups, ranges", () => {
  assert.match(
    issues(GOOD.replace("ttl: 8", "ttl: 8, colour: red")).join(),
    /rules\[0\]\.outputs\[0\]: unknown key "colour"/,
  );
  assert.match(
    issues(GOOD.replace("239.9.9.9", "10.9.9.9")).join(),
    /rules\[0\]\.outputs\[0\]\.group: must be an IPv4 multicast group/,
  );
  assert.match(issues(GOOD.replace("239.1.1.1", "239.1.1")).join(), /rules\[0\]\.input\.group: /);
  assert.match(issues(GOOD.replace("port: 5001", "port: 0")).join(), /rules\[0\]\.input\.port: /);
  assert.match(
    issues(GOOD.replace("ttl: 8", "ttl: 256")).join(),
    /rules\[0\]\.outputs\[0\]\.ttl: /,
  );
  assert.match(
    issues(GOOD.replace("dscp: 46", "dscp: 64")).join(),
    /rules\[0\]\.outputs\[0\]\.dscp: /,
  );
  assert.match(
    issues(GOOD.replace("port: 5001", 'port: "5001"')).join(),
    /rules\[0\]\.input\.port: /,
  );
  assert.match(
    issues(GOOD.replace("10.0.0.0/24", "10.0.0.0/33")).join(),
    /rules\[0\]\.input\.source: /,
  );
});

Deno.test("an output that feeds its own input back is rejected as a loop", () => {
  const loop = GOOD.replace(
    "{ interface: eth2, group: 239.9.9.9, port: 5099",
    "{ interface: eth1, group: 239.1.1.1, port: 5001",
  );
  assert.match(
    issues(loop).join(),
    /rules\[0\]\.outputs\[0\]: output would feed a relay input back \(loop\)/,
  );
});

Deno.test("duplicate rule names and duplicate inputs are rejected", () => {
  const twice = GOOD + GOOD.split("\n").slice(1).join("\n");
  const found = issues(twice).join("\n");
  assert.match(found, /rules\[1\]\.name: duplicate rule name "cam1"/);
  assert.match(found, /rules\[1\]\.input: duplicate input/);
});

Deno.test("malformed YAML and duplicate keys are errors, not crashes", () => {
  assert.match(issues("rules: [ { name: x").join(), /YAML: /);
  assert.match(issues("rules: []\nrules: []\n").join(), /YAML: .*[Mm]ap keys must be unique/);
  assert.match(issues("- just\n- a list\n").join(), /must be a mapping \(got a list\)/);
});

Deno.test("a config of 10,000 rules validates; one bad rule among them is named", () => {
  const rule = (i: number) =>
    `  - name: r${i}\n    input: { interface: eth1, group: 239.${(i >> 8) & 255}.${
      i & 255
    }.1, port: ${1000 + (i % 50000)} }\n` +
    `    outputs:\n      - { interface: eth2, group: 239.200.${(i >> 8) & 255}.${
      i & 255
    }, port: 6000 }\n`;
  const text = "rules:\n" + Array.from({ length: 10_000 }, (_, i) => rule(i)).join("");
  assert.equal(parseConfigText(text, "big.yaml").rules.length, 10_000);
  const bad = text.replace(
    "name: r7777\n    input: { interface: eth1, group: 239.30.97.1",
    "name: r7777\n    input: { interface: eth1, group: 10.30.97.1",
  );
  assert.match(issues(bad).join(), /rules\[7777\]\.input\.group: must be an IPv4 multicast group/);
});

Deno.test("loadConfigFile() refuses a world-writable config file", async () => {
  const path = Deno.makeTempFileSync({ suffix: ".yaml" });
  Deno.writeTextFileSync(path, GOOD);
  Deno.chmodSync(path, 0o666);
  await assert.rejects(loadConfigFile(path), /world-writable.*chmod o-w/);
  Deno.chmodSync(path, 0o600);
  assert.equal((await loadConfigFile(path)).rules.length, 1);
});

const V6 = `rules:
  - name: v6
    input: { interface: eth1, group: "ff3e::1:1", port: 5001, source: "2001:db8::/32" }
    outputs:
      - { interface: eth2, group: "ff3e::9:9", port: 5099, ttl: 8 }
      - { interface: eth2, group: 239.9.9.9, port: 5099 }
      - { egress: routed, address: 10.9.0.2, port: 6000 }
      - { egress: routed, interface: eth3, group: "ff3e::a", port: 6001, source_ip: "2001:db8:3::1" }
  - name: unicast-in
    input: { interface: eth1, address: 10.0.0.2, port: 5000 }
    outputs: [{ interface: eth2, group: "ff3e::5", port: 6005 }]
`;

Deno.test("IPv6 groups, translation, routed outputs and unicast inputs validate", () => {
  const c = parseConfigText(V6, "v6.yaml");
  assert.equal(c.rules[0].outputs[2].egress, "routed");
  assert.equal(c.rules[1].input!.address, "10.0.0.2");
});

Deno.test("IPv6, routed and unicast mistakes are named by field", () => {
  const cases: [string, string, RegExp][] = [
    [
      'group: "ff3e::1:1"',
      'group: "2001:db8::1"',
      /rules\[0\]\.input\.group: must be an IPv4 multicast group .* or an IPv6 one/,
    ],
    [
      'source: "2001:db8::/32"',
      "source: 10.0.0.0/8",
      /rules\[0\]\.input\.source: source must be an IPv6 address/,
    ],
    [
      'source: "2001:db8::/32"',
      'source: "2001:db8::/129"',
      /rules\[0\]\.input\.source: must be an IPv4 or IPv6 address or prefix/,
    ],
    [
      "{ egress: routed, address: 10.9.0.2",
      "{ address: 10.9.0.2",
      /rules\[0\]\.outputs\[2\]\.address: a unicast address needs egress: "routed"/,
    ],
    [
      "{ egress: routed, interface: eth3,",
      "{ egress: routed,",
      /rules\[0\]\.outputs\[3\]\.interface: a routed multicast output needs its egress interface/,
    ],
    [
      'source_ip: "2001:db8:3::1"',
      "source_ip: 10.3.0.1",
      /rules\[0\]\.outputs\[3\]\.source_ip: source_ip must be an IPv6 address/,
    ],
    [
      "{ interface: eth1, address: 10.0.0.2,",
      "{ interface: eth1, address: 10.0.0.2, group: 239.1.1.1,",
      /rules\[1\]\.input\.address: give exactly one of group/,
    ],
    ["address: 10.0.0.2", "address: 239.0.0.2", /rules\[1\]\.input\.address: must be a unicast/],
  ];
  for (const [from, to, pattern] of cases) {
    assert.ok(V6.includes(from), from);
    assert.match(issues(V6.replace(from, to)).join("\n"), pattern, to);
  }
});

Deno.test("allow_fragments is refused with a translated or routed output, naming the output", () => {
  const text = V6.replace(
    "  - name: unicast-in",
    "    allow_fragments: true\n  - name: unicast-in",
  );
  const found = issues(text).join("\n");
  assert.match(found, /rules\[0\]\.outputs\[1\]: allow_fragments: fragments can only be relayed/);
  assert.match(found, /rules\[0\]\.outputs\[2\]: allow_fragments/);
  assert.doesNotMatch(found, /rules\[0\]\.outputs\[0\]/, "the IPv6 l2 output can take fragments");
});

Deno.test("an IPv6 output that feeds an input back is a loop, however the address is written", () => {
  const loop = V6.replace(
    '{ interface: eth2, group: "ff3e::9:9", port: 5099, ttl: 8 }',
    '{ interface: eth1, group: "FF3E:0::1:1", port: 5001 }',
  );
  assert.match(
    issues(loop).join("\n"),
    /rules\[0\]\.outputs\[0\]: output would feed a relay input back \(loop\)/,
  );
});

Deno.test("a YAML alias bomb is a config error naming the cause, not a crash", () => {
  const bomb = `a: &a ["x","x","x","x","x","x","x","x","x"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
rules: [*d]
`;
  assert.throws(
    () => parseConfigText(bomb, "bomb.yaml"),
    (err: unknown) => err instanceof ConfigError && /alias/i.test(err.message),
  );
});

Deno.test("config errors name the line and column in the user's own file, also after a leading ---", () => {
  const text =
    "---\n# comment\nrules:\n  - name: a\n    input: { interface: eth1, group: 10.0.0.1, port: 5001 }\n" +
    "    outputs: [{ interface: eth2, group: 239.1.1.1, port: 1 }]\n";
  assert.throws(
    () => parseConfigText(text, "f.yaml"),
    (err: unknown) =>
      err instanceof ConfigError &&
      /rules\[0\]\.input\.group: .* \(line 5, column 38\)/.test(err.message),
  );
});

Deno.test("protocol: udp needs ports; esp (or a number) has none and goes to l2 outputs only", () => {
  const esp = `rules:
  - name: ipsec
    input: { interface: eth1, group: 239.1.1.50, protocol: esp }
    outputs:
      - { interface: eth2, group: 239.9.9.50 }
`;
  assert.equal(parseConfigText(esp, "test.yaml").rules[0].input!.protocol, "esp");
  assert.equal(
    parseConfigText(esp.replace("protocol: esp", "protocol: 47"), "test.yaml").rules[0].input!
      .protocol,
    47,
  );
  assert.match(
    issues(GOOD.replace("port: 5001, ", "")).join(),
    /rules\[0\]\.input\.port: a UDP input needs its port/,
  );
  assert.match(
    issues(GOOD.replace(", port: 5099", "")).join(),
    /rules\[0\]\.outputs\[0\]\.port: a UDP output needs its port/,
  );
  assert.match(
    issues(esp.replace("protocol: esp", "protocol: esp, port: 5000")).join(),
    /rules\[0\]\.input\.port: only UDP has ports/,
  );
  assert.match(
    issues(esp.replace("group: 239.9.9.50 }", "group: 239.9.9.50, port: 1 }")).join(),
    /outputs\[0\]\.port: only UDP has ports/,
  );
  assert.match(
    issues(
      esp.replace(
        "{ interface: eth2, group: 239.9.9.50 }",
        "{ egress: routed, address: 192.0.2.1 }",
      ),
    ).join(),
    /rules\[0\]\.outputs\[0\]: a non-UDP stream goes to l2 outputs only/,
  );
  assert.match(
    issues(esp.replace("protocol: esp", "protocol: gre")).join(),
    /rules\[0\]\.input\.protocol/,
  );
});

Deno.test("vlan and outer_vlan: QinQ needs the inner tag; a routed output cannot be tagged", () => {
  assert.equal(
    parseConfigText(GOOD.replace("port: 5001,", "port: 5001, vlan: 100,"), "test.yaml").rules[0]
      .input!.vlan,
    100,
  );
  assert.match(
    issues(GOOD.replace("port: 5001,", "port: 5001, outer_vlan: 300,")).join(),
    /rules\[0\]\.input\.vlan: outer_vlan needs vlan/,
  );
  assert.match(
    issues(GOOD.replace("port: 5001,", "port: 5001, vlan: 4095,")).join(),
    /rules\[0\]\.input\.vlan: /,
  );
});

Deno.test("a mistyped key gets a suggestion: did you mean", () => {
  const found = issues(GOOD.replace("port: 5001,", "prot: 5001,")).join("\n");
  assert.match(found, /rules\[0\]\.input: unknown key "prot"; did you mean "port"\?/);
  assert.doesNotMatch(
    issues(GOOD.replace("ttl: 8", "ttl: 8, xyzzyq: 1")).join(),
    /did you mean/,
    "no suggestion for a word far from every key",
  );
});

Deno.test("worker_priority is a SCHED_FIFO priority, 1-99", () => {
  assert.equal(parseConfigText(`worker_priority: 10\n${GOOD}`, "test.yaml").worker_priority, 10);
  for (const bad of ["0", "100", "1.5", "-1", "high"]) {
    assert.match(issues(`worker_priority: ${bad}\n${GOOD}`).join(), /worker_priority: /, bad);
  }
});

Deno.test("worker_cpus is a non-empty list of CPU numbers", () => {
  assert.deepEqual(parseConfigText(`worker_cpus: [1, 3]\n${GOOD}`, "test.yaml").worker_cpus, [
    1,
    3,
  ]);
  assert.match(issues(`worker_cpus: []\n${GOOD}`).join(), /worker_cpus: /);
  assert.match(issues(`worker_cpus: [-1]\n${GOOD}`).join(), /worker_cpus\[0\]: /);
  assert.match(issues(`worker_cpus: [1.5]\n${GOOD}`).join(), /worker_cpus\[0\]: /);
  assert.match(issues(`worker_cpus: 1\n${GOOD}`).join(), /worker_cpus: /);
});
