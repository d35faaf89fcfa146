import assert from "node:assert/strict";
import { loadConfigFile } from "../../src/config/load.ts";

Deno.test("examples/mcr.yaml, which documents every option, is a valid configuration", async () => {
  const config = await loadConfigFile(new URL("../../examples/mcr.yaml", import.meta.url).pathname);
  assert.equal(config.rules[0].name, "cam1");
  assert.deepEqual(config.rules[0].outputs.map((o) => o.egress ?? "l2"), [
    "l2",
    "l2",
    "l2",
    "routed",
  ]);
  assert.deepEqual(config.rules.map((r) => r.name), [
    "cam1",
    "v6-ssm",
    "from-unicast",
    "ipsec",
    "trunk-vlan-100",
    "on-demand",
    "from-containers",
    "contribution",
    "wide-fanout",
    "feed-2022-7",
  ]);
  assert.equal(config.rules[7].inspect?.mode, "rtp+ts");
  assert.equal(config.rules[8].spread, true);
  assert.equal(config.rules[9].merge?.legs.length, 2);
  assert.equal(config.rules[9].merge?.key, "rtp");
  assert.deepEqual(config.igmp?.interfaces, ["eth2"]);
  assert.equal(config.pim?.rp?.[0].groups, "239.0.0.0/8");
  assert.equal(config.msdp?.peers[0].local, "10.0.3.1");
  assert.equal(config.rules[5].outputs[0].on_demand, true);
  assert.equal(config.rules[3].input!.protocol, "esp");
  assert.equal(config.rules[4].input!.vlan, 100);
  assert.equal(config.rules[4].outputs[0].vlan, 200);
  assert.equal(config.rules[2].input!.address, "10.0.0.2");
});

Deno.test("examples/mcr.service is hardened: systemd-analyze security --offline rates it 2.5 or lower", async () => {
  const unit = new URL("../../examples/mcr.service", import.meta.url).pathname;
  const out = await new Deno.Command("systemd-analyze", {
    args: ["security", "--offline=true", unit],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  const m = text.match(/Overall exposure level for mcr\.service: ([\d.]+)/);
  assert.ok(m, text);
  assert.ok(Number(m[1]) <= 2.5, `exposure ${m[1]}`);
  assert.doesNotMatch(text, /Unknown key|Failed to parse|ignoring/, "every setting understood");
  const unitText = Deno.readTextFileSync(unit);
  assert.match(unitText, /^Type=notify$/m);
  assert.match(unitText, /^WatchdogSec=/m);
  assert.match(
    unitText,
    /^SystemCallFilter=@system-service io_uring_setup io_uring_enter io_uring_register$/m,
  );
  assert.match(unitText, /^Documentation=file:\/usr\/local\/share\/doc\/mcr\/README\.md$/m);
});
