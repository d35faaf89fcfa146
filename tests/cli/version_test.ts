import assert from "node:assert/strict";

const main = new URL("../../main.ts", import.meta.url).pathname;
const FLAGS = [
  "--allow-ffi",
  "--allow-read",
  "--allow-write",
  "--allow-net",
  "--allow-env",
  "--allow-run",
  "--allow-sys",
];

async function mcr(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...FLAGS, main, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

Deno.test("mcr --version prints version, commit, Deno and liburing versions", async () => {
  const r = await mcr("--version");
  assert.equal(r.code, 0);
  const version =
    JSON.parse(Deno.readTextFileSync(new URL("../../deno.json", import.meta.url))).version;
  assert.match(
    r.stdout.trim(),
    new RegExp(
      `^mcr ${
        version.replaceAll(".", "\\.")
      } \\(commit ([0-9a-f]{7,}|unknown), deno ${Deno.version.deno}, liburing \\d+\\.\\d+\\)$`,
    ),
  );
});

Deno.test("mcr --help lists every command; an unknown command exits 1", async () => {
  const help = await mcr("--help");
  assert.equal(help.code, 0);
  for (const c of ["run", "demo", "gen", "sink", "rules", "stats", "health", "config"]) {
    assert.match(help.stdout, new RegExp(`^  ${c} `, "m"));
  }
  const bad = await mcr("frobnicate");
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /unknown command "frobnicate"/);
});

Deno.test("bad command-line arguments are refused with a message naming the argument", async () => {
  const gen = await mcr("gen", "--group", "10.0.0.1", "--port", "5000");
  assert.equal(gen.code, 1);
  assert.match(gen.stderr, /mcr gen: --group: must be an IPv4 multicast group/);
  const port = await mcr("sink", "--group", "239.1.1.1", "--port", "99999");
  assert.match(port.stderr, /mcr sink: --port: /);
  const unknown = await mcr("gen", "--colour", "red");
  assert.match(unknown.stderr, /mcr gen: .*colour/);
  const run = await mcr("run");
  assert.match(run.stderr, /mcr run: --config: a configuration file is required/);
});
