/**
 * --json on the commands scripts call: one JSON line on stdout, for success
 * and for failure alike.
 */
import assert from "node:assert/strict";
import { runCli } from "../../src/cli/dispatch.ts";

async function capture(argv: string[]): Promise<{ code: number; out: string[] }> {
  const out: string[] = [];
  const log = console.log;
  const error = console.error;
  console.log = (s: string) => out.push(s);
  console.error = () => {};
  try {
    return { code: await runCli(argv), out };
  } finally {
    console.log = log;
    console.error = error;
  }
}

Deno.test("mcr config check --json: {ok, rules, outputs} for a good file, {ok: false, errors} naming the field for a bad one", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    Deno.writeTextFileSync(
      `${dir}/good.yaml`,
      "rules:\n  - { name: a, input: { interface: eth1, group: 239.1.1.1, port: 5001 }, outputs: [{ interface: eth2, group: 239.9.9.9, port: 5099 }] }\n",
    );
    Deno.writeTextFileSync(
      `${dir}/bad.yaml`,
      "rules:\n  - { name: a, input: { interface: eth1, group: 239.1.1.1, port: 0 }, outputs: [{ interface: eth2, group: 239.9.9.9, port: 5099 }] }\n",
    );
    const good = await capture(["config", "check", `${dir}/good.yaml`, "--json"]);
    assert.equal(good.code, 0);
    assert.deepEqual(JSON.parse(good.out[0]), {
      ok: true,
      file: `${dir}/good.yaml`,
      rules: 1,
      outputs: 1,
    });
    const bad = await capture(["config", "check", "--json", `${dir}/bad.yaml`]);
    assert.equal(bad.code, 1);
    const r = JSON.parse(bad.out[0]);
    assert.equal(r.ok, false);
    assert.match(r.errors.join(), /rules\[0\]\.input\.port/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("mcr version --json: version, commit, deno and liburing", async () => {
  const v = await capture(["version", "--json"]);
  assert.equal(v.code, 0);
  const j = JSON.parse(v.out[0]);
  assert.deepEqual(Object.keys(j).sort(), ["commit", "deno", "liburing", "version"]);
  assert.equal(j.deno, Deno.version.deno);
});

Deno.test("mcr rules remove --json with no relay listening: the error as JSON, exit 3", async () => {
  const r = await capture(["rules", "remove", "x", "--api", "http://127.0.0.1:9", "--json"]);
  assert.equal(r.code, 3);
  assert.match(JSON.parse(r.out[0]).error, /mcr rules remove: /);
});
