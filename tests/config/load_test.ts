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
  assert.match(issues(GOOD.replace("ttl: 8", "ttl: 8, colour: red")).join(), /rules\[0\]\.outputs\[0\]: Unrecognized key: "colour"/);
  assert.match(issues(GOOD.replace("239.9.9.9", "10.9.9.9")).join(), /rules\[0\]\.outputs\[0\]\.group: must be an IPv4 multicast group/);
  assert.match(issues(GOOD.replace("239.1.1.1", "239.1.1")).join(), /rules\[0\]\.input\.group: /);
  assert.match(issues(GOOD.replace("port: 5001", "port: 0")).join(), /rules\[0\]\.input\.port: /);
  assert.match(issues(GOOD.replace("ttl: 8", "ttl: 256")).join(), /rules\[0\]\.outputs\[0\]\.ttl: /);
  assert.match(issues(GOOD.replace("dscp: 46", "dscp: 64")).join(), /rules\[0\]\.outputs\[0\]\.dscp: /);
  assert.match(issues(GOOD.replace("port: 5001", 'port: "5001"')).join(), /rules\[0\]\.input\.port: /);
  assert.match(issues(GOOD.replace("10.0.0.0/24", "10.0.0.0/33")).join(), /rules\[0\]\.input\.source: /);
});

Deno.test("an output that feeds its own input back is rejected as a loop", () => {
  const loop = GOOD.replace("{ interface: eth2, group: 239.9.9.9, port: 5099", "{ interface: eth1, group: 239.1.1.1, port: 5001");
  assert.match(issues(loop).join(), /rules\[0\]\.outputs\[0\]: output would feed a relay input back \(loop\)/);
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
  assert.match(issues("- just\n- a list\n").join(), /expected object/);
});

Deno.test("a config of 10,000 rules validates; one bad rule among them is named", () => {
  const rule = (i: number) =>
    `  - name: r${i}\n    input: { interface: eth1, group: 239.${(i >> 8) & 255}.${i & 255}.1, port: ${1000 + (i % 50000)} }\n` +
    `    outputs:\n      - { interface: eth2, group: 239.200.${(i >> 8) & 255}.${i & 255}, port: 6000 }\n`;
  const text = "rules:\n" + Array.from({ length: 10_000 }, (_, i) => rule(i)).join("");
  assert.equal(parseConfigText(text, "big.yaml").rules.length, 10_000);
  const bad = text.replace("name: r7777\n    input: { interface: eth1, group: 239.30.97.1", "name: r7777\n    input: { interface: eth1, group: 10.30.97.1");
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
