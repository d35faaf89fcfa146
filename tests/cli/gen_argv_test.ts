import assert from "node:assert/strict";
import { genArgv } from "../../src/cli/gen_argv.ts";
import { parseGenArgs } from "../../src/cli/gen.ts";

Deno.test("genArgv() builds what `mcr gen` parses back to the same values", () => {
  const argv = genArgv({
    group: "239.1.1.1",
    port: 5001,
    count: 100,
    rate: 2000,
    size: 256,
    iface: "veth0",
    sourceIp: "10.0.0.1",
    ttl: 8,
    runId: 7,
  });
  assert.equal(argv[0], "gen");
  const a = parseGenArgs(argv.slice(1));
  assert.ok(typeof a !== "number", "mcr gen refused the arguments");
  assert.equal(a.group, "239.1.1.1");
  assert.equal(a.port, 5001);
  assert.equal(a.count, 100);
  assert.equal(a.rate, 2000);
  assert.equal(a.size, 256);
  assert.equal(a.interface, "veth0");
  assert.equal(a["source-ip"], "10.0.0.1");
  assert.equal(a.ttl, 8);
  assert.equal(a["run-id"], 7);
  assert.equal(a.json, true);
});

Deno.test("genArgv() passes only the options given: the generator's defaults apply to the rest", () => {
  const argv = genArgv({ address: "10.0.0.2", port: 9, count: 1, rate: 1 });
  assert.deepEqual(argv, [
    "gen",
    "--address",
    "10.0.0.2",
    "--port",
    "9",
    "--count",
    "1",
    "--rate",
    "1",
    "--json",
  ]);
  const a = parseGenArgs(argv.slice(1));
  assert.ok(typeof a !== "number");
  assert.equal(a.size, undefined);
  assert.equal(a["run-id"], undefined);
});

Deno.test("genArgv() refuses both a group and an address, or neither", () => {
  assert.throws(
    () => genArgv({ group: "239.1.1.1", address: "10.0.0.2", port: 1, count: 1, rate: 1 }),
    /exactly one/,
  );
  assert.throws(() => genArgv({ port: 1, count: 1, rate: 1 }), /exactly one/);
});
