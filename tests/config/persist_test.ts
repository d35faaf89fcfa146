import assert from "node:assert/strict";
import { parseConfigText } from "../../src/config/load.ts";
import { writeConfigAtomically } from "../../src/config/persist.ts";
import type { Config } from "../../src/config/schema.ts";

function config(n: number, tag: string): Config {
  return {
    rules: Array.from({ length: n }, (_, i) => ({
      name: `${tag}${i}`,
      input: { interface: "eth1", group: `239.1.${i >> 8}.${i & 255}`, port: 5000 },
      outputs: [{ interface: "eth2", group: "239.9.9.9", port: 6000 + (i % 1000) }],
    })),
  };
}

Deno.test("writeConfigAtomically() writes a file that loads back to the same config, keeping a private mode", async () => {
  const path = `${Deno.makeTempDirSync()}/mcr.yaml`;
  const c = config(3, "a");
  await writeConfigAtomically(path, c);
  assert.deepEqual(parseConfigText(Deno.readTextFileSync(path), path), c);
  assert.equal(Deno.statSync(path).mode! & 0o077, 0);
});

Deno.test("a crash in the middle of a config write leaves the old or the new file, never a torn one", async () => {
  const dir = Deno.makeTempDirSync();
  const path = `${dir}/mcr.yaml`;
  const old = config(2000, "old");
  const next = config(2000, "new");
  await writeConfigAtomically(path, old);
  const writer = `
    import { writeConfigAtomically } from ${
    JSON.stringify(new URL("../../src/config/persist.ts", import.meta.url).href)
  };
    const next = JSON.parse(Deno.readTextFileSync(Deno.args[1]));
    for (;;) await writeConfigAtomically(Deno.args[0], next);
  `;
  const script = `${dir}/writer.ts`;
  Deno.writeTextFileSync(script, writer);
  Deno.writeTextFileSync(`${dir}/old.json`, JSON.stringify(old));
  Deno.writeTextFileSync(`${dir}/next.json`, JSON.stringify(next));
  for (let round = 0; round < 8; round++) {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--config",
        new URL("../../deno.json", import.meta.url).pathname,
        "--allow-read",
        "--allow-write",
        "--allow-env",
        script,
        path,
        `${dir}/${round % 2 ? "old" : "next"}.json`,
      ],
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const stderr = new Response(child.stderr).text();
    await new Promise((r) => setTimeout(r, 300 + round * 37));
    try {
      child.kill("SIGKILL");
    } catch {
      assert.fail(`the writer exited on its own: ${await stderr}`);
    }
    await child.status;
    await stderr;
    const loaded = parseConfigText(Deno.readTextFileSync(path), path);
    assert.ok(
      JSON.stringify(loaded) === JSON.stringify(old) ||
        JSON.stringify(loaded) === JSON.stringify(next),
      `round ${round}: the file is neither the old nor the new config`,
    );
  }
});
