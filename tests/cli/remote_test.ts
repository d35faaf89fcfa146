/**
 * The small CLI commands, against a real HTTP server over the API (a fake
 * relay behind it): workers, log-level, config show, config schema, help,
 * and "did you mean" for a mistyped command.
 */
import assert from "node:assert/strict";
import { createApp } from "../../src/api/app.ts";
import { didYouMean, editDistance, runCli } from "../../src/cli/dispatch.ts";
import { BASE_CONFIG, fakeDeps, FakeRelay } from "../helpers/fake_relay.ts";

/** Runs fn with console.log/error captured; returns [exit code, stdout, stderr]. */
async function captured(fn: () => Promise<number>): Promise<[number, string, string]> {
  const out: string[] = [];
  const err: string[] = [];
  const [log, error] = [console.log, console.error];
  console.log = (...a: unknown[]) => out.push(a.join(" "));
  console.error = (...a: unknown[]) => err.push(a.join(" "));
  try {
    return [await fn(), out.join("\n"), err.join("\n")];
  } finally {
    [console.log, console.error] = [log, error];
  }
}

Deno.test("mcr workers, log-level and config show talk to a running relay's API", async () => {
  const deps = fakeDeps(new FakeRelay(structuredClone(BASE_CONFIG)));
  const app = createApp(deps);
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, app.fetch);
  const api = `http://127.0.0.1:${server.addr.port}`;
  try {
    const [code, out] = await captured(() => runCli(["workers", "--api", api]));
    assert.equal(code, 0);
    assert.match(out, /^worker\s+alive\s+restarts/m);
    assert.match(out, /^0\s+true\s+0/m);
    const [, json] = await captured(() => runCli(["workers", "--api", api, "--json"]));
    assert.equal(JSON.parse(json)[0].id, 0);
    assert.deepEqual(await captured(() => runCli(["log-level", "--api", api])), [
      0,
      deps.logger.level,
      "",
    ]);
    assert.deepEqual(await captured(() => runCli(["log-level", "debug", "--api", api])), [
      0,
      "debug",
      "",
    ]);
    assert.equal(deps.logger.level, "debug", "in force");
    assert.equal((await captured(() => runCli(["log-level", "loud", "--api", api])))[0], 1);
    const [showCode, yaml] = await captured(() => runCli(["config", "show", "--api", api]));
    assert.equal(showCode, 0);
    assert.match(yaml, new RegExp(`name: ${BASE_CONFIG.rules[0].name}`));
  } finally {
    await server.shutdown();
  }
});

Deno.test("mcr config schema prints a JSON Schema of the configuration", async () => {
  const [code, out] = await captured(() => runCli(["config", "schema"]));
  assert.equal(code, 0);
  const s = JSON.parse(out);
  assert.match(s.$schema, /json-schema\.org/);
  assert.equal(s.type, "object");
  assert.ok(s.properties.rules && s.properties.workers && s.properties.ring);
  assert.equal(s.properties.rules.items.properties.input.properties.vlan.maximum, 4094);
});

Deno.test("a mistyped command gets a suggestion; mcr help CMD prints that command's usage", async () => {
  assert.equal(editDistance("stast", "stats"), 2);
  assert.equal(didYouMean("stast"), "stats");
  assert.equal(didYouMean("helth"), "health");
  assert.equal(didYouMean("xyzzy"), null);
  const [code, , err] = await captured(() => runCli(["stast"]));
  assert.equal(code, 1);
  assert.match(err, /did you mean "stats"/);
  const [helpCode, usage] = await captured(() => runCli(["help", "health"]));
  assert.equal(helpCode, 0);
  assert.match(usage, /^usage: mcr health/);
});

Deno.test("every command against a relay that cannot be reached exits 3; one that refuses exits 1", async () => {
  // A port nothing listens on.
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const dead = `http://127.0.0.1:${(probe.addr as Deno.NetAddr).port}`;
  probe.close();
  for (
    const argv of [
      ["workers"],
      ["log-level"],
      ["config", "show"],
      ["routing"],
      ["streams"],
      ["merges"],
      ["reload"],
    ]
  ) {
    const [code, , err] = await captured(() => runCli([...argv, "--api", dead]));
    assert.equal(code, 3, `${argv.join(" ")}: ${err}`);
    assert.match(err, /cannot reach the mcr API/);
  }
  const deps = fakeDeps(new FakeRelay(structuredClone(BASE_CONFIG)));
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen: () => {} },
    createApp(deps).fetch,
  );
  const api = `http://127.0.0.1:${server.addr.port}`;
  try {
    for (const argv of [["streams", "nope"], ["merges", "nope"], ["reload"]]) {
      const [code, , err] = await captured(() => runCli([...argv, "--api", api]));
      assert.equal(code, 1, `${argv.join(" ")}: ${err}`);
      assert.match(err, /HTTP 404|refused/);
    }
  } finally {
    await server.shutdown();
  }
});

Deno.test("mcr rules import FILE adds a file's rules as one change; a bad rule refuses it whole (exit 1) naming it; --replace replaces; remove of many is one change", async () => {
  const relay = new FakeRelay(structuredClone(BASE_CONFIG));
  const app = createApp(fakeDeps(relay));
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, app.fetch);
  const api = `http://127.0.0.1:${server.addr.port}`;
  const dir = Deno.makeTempDirSync();
  const rule = (i: number, port = 6000) =>
    `  - { name: r${i}, input: { interface: eth1, group: 239.10.0.${i}, port: 5000 }, ` +
    `outputs: [{ interface: eth2, group: 239.200.0.${i}, port: ${port} }] }\n`;
  try {
    Deno.writeTextFileSync(`${dir}/good.yaml`, "# provisioning\nrules:\n" + rule(1) + rule(2));
    const [code, out] = await captured(() =>
      runCli(["rules", "import", `${dir}/good.yaml`, "--api", api])
    );
    assert.equal(code, 0);
    assert.match(out, /imported 2 rules .*2 added/);
    assert.equal(relay.applied.length, 1, "one change");
    assert.deepEqual(relay.current.rules.map((r) => r.name), ["cam1", "r1", "r2"]);

    Deno.writeTextFileSync(`${dir}/bad.yaml`, "rules:\n" + rule(3) + rule(4, 70000) + rule(5));
    const [badCode, , err] = await captured(() =>
      runCli(["rules", "import", `${dir}/bad.yaml`, "--api", api])
    );
    assert.equal(badCode, 1);
    assert.match(err, /add\[1\] \(rule "r4"\)/);
    assert.equal(relay.applied.length, 1, "nothing applied");

    // Without --replace an existing name is refused; with it, the rule is replaced in one change.
    Deno.writeTextFileSync(`${dir}/again.yaml`, "rules:\n" + rule(1, 6100) + rule(6));
    assert.equal(
      (await captured(() => runCli(["rules", "import", `${dir}/again.yaml`, "--api", api])))[0],
      1,
    );
    const [repCode, repOut] = await captured(() =>
      runCli(["rules", "import", `${dir}/again.yaml`, "--replace", "--api", api])
    );
    assert.equal(repCode, 0);
    assert.match(repOut, /1 added, 1 changed/);
    assert.equal(relay.current.rules.find((r) => r.name === "r1")!.outputs[0].port, 6100);

    const [rmCode] = await captured(() =>
      runCli(["rules", "remove", "r1", "r2", "r6", "--api", api])
    );
    assert.equal(rmCode, 0);
    assert.deepEqual(relay.current.rules.map((r) => r.name), ["cam1"]);
    assert.equal(relay.applied.length, 3);
  } finally {
    await server.shutdown();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("mcr workers prints whole milliseconds, not the float the API carries", async () => {
  const relay = new FakeRelay(structuredClone(BASE_CONFIG));
  const stats = relay.stats.bind(relay);
  relay.stats = () => {
    const s = stats();
    return { ...s, workers: s.workers.map((w) => ({ ...w, heartbeat_age_ms: 11.5107421875 })) };
  };
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen: () => {} },
    createApp(fakeDeps(relay)).fetch,
  );
  try {
    const [code, out] = await captured(() =>
      runCli(["workers", "--api", `http://127.0.0.1:${server.addr.port}`])
    );
    assert.equal(code, 0);
    assert.match(out, /^0\s+true\s+0\s+12\s/m);
    assert.ok(!out.includes("11.51"), out);
  } finally {
    await server.shutdown();
  }
});
