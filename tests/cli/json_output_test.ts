/**
 * --json on the commands scripts call: one JSON line on stdout, for success
 * and for failure alike.
 */
import assert from "node:assert/strict";
import { runCli } from "../../src/cli/dispatch.ts";
import { createApp } from "../../src/api/app.ts";
import { defaultApi } from "../../src/cli/client.ts";
import { BASE_CONFIG, fakeDeps, FakeRelay } from "../helpers/fake_relay.ts";

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

Deno.test("--json failures are one RFC 9457-shaped problem on stdout for every remote command: unreachable (exit 3)", async () => {
  const commands = [
    ["rules", "remove", "x"],
    ["rules", "list"],
    ["stats"],
    ["workers"],
    ["streams"],
    ["merges"],
    ["explain", "cam1"],
    ["reload"],
    ["config", "show"],
    ["routing"],
  ];
  for (const argv of commands) {
    const r = await capture([...argv, "--api", "http://127.0.0.1:9", "--json"]);
    assert.equal(r.code, 3, argv.join(" "));
    assert.equal(r.out.length, 1, `${argv.join(" ")}: one line: ${r.out.join("|")}`);
    const p = JSON.parse(r.out[0]);
    assert.equal(p.code, "unreachable", argv.join(" "));
    assert.equal(p.type, "about:blank");
    assert.match(p.title, /could not be reached/);
    assert.match(p.detail, /cannot reach the mcr API at http:\/\/127\.0\.0\.1:9/);
  }
});

Deno.test("--json failures carry the relay's own problem when it refuses (exit 1); usage errors are problems too, with a suggestion", async () => {
  const relay = new FakeRelay(structuredClone(BASE_CONFIG));
  const app = createApp(fakeDeps(relay));
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, app.fetch);
  const api = `http://127.0.0.1:${server.addr.port}`;
  try {
    for (
      const argv of [
        ["rules", "remove", "nosuch"],
        ["explain", "nosuch"],
        ["streams", "nosuch"],
      ]
    ) {
      const r = await capture([...argv, "--api", api, "--json"]);
      assert.equal(r.code, 1, argv.join(" "));
      const p = JSON.parse(r.out[0]);
      assert.equal(p.status, 404, argv.join(" "));
      assert.match(p.code, /_not_found$/);
      assert.match(p.type, /^\/problems\//);
    }
    const bad = await capture([
      "rules",
      "add",
      "--file",
      "/nonexistent.yaml",
      "--api",
      api,
      "--json",
    ]);
    assert.equal(bad.code, 1);
    assert.equal(JSON.parse(bad.out[0]).code, "failed");
  } finally {
    await server.shutdown();
  }
  const usage = await capture(["workers", "--jsno", "--json"]);
  assert.equal(usage.code, 1);
  const u = JSON.parse(usage.out[0]);
  assert.equal(u.code, "usage");
  assert.match(u.detail, /unknown option --jsno; did you mean --json\?/);
  // Without --json: the message and the usage on stderr, nothing on stdout.
  const plain = await capture(["workers", "--apii", "x"]);
  assert.equal(plain.code, 1);
  assert.deepEqual(plain.out, []);
});

Deno.test("the CLI speaks to the API's unix socket (unix:/path), and takes the conventional socket when none is named", async () => {
  const dir = Deno.makeTempDirSync();
  const path = `${dir}/api.sock`;
  const app = createApp(fakeDeps(new FakeRelay(structuredClone(BASE_CONFIG))));
  const server = Deno.serve({ transport: "unix", path, onListen: () => {} }, app.fetch);
  try {
    const r = await capture(["rules", "list", "--api", `unix:${path}`, "--json"]);
    assert.equal(r.code, 0);
    assert.deepEqual(JSON.parse(r.out[0]).map((x: { name: string }) => x.name), ["cam1"]);
    const w = await capture(["workers", "--api", `unix:${path}`, "--json"]);
    assert.equal(w.code, 0);
    assert.equal(JSON.parse(w.out[0])[0].id, 0);
    assert.equal(defaultApi(path), `unix:${path}`);
    assert.equal(defaultApi(`${dir}/none.sock`), "http://127.0.0.1:8787");
    Deno.writeTextFileSync(`${dir}/file`, "");
    assert.equal(defaultApi(`${dir}/file`), "http://127.0.0.1:8787", "only a socket");
    const gone = await capture(["workers", "--api", `unix:${dir}/none.sock`, "--json"]);
    assert.equal(gone.code, 3);
    assert.equal(JSON.parse(gone.out[0]).code, "unreachable");
    const bad = await capture(["workers", "--api", "ftp://x", "--json"]);
    assert.equal(bad.code, 1);
    assert.match(JSON.parse(bad.out[0]).detail, /--api: must be http:\/\/host:port or unix:/);
  } finally {
    await server.shutdown();
    Deno.removeSync(dir, { recursive: true });
  }
});
