import assert from "node:assert/strict";
import { DEV_RUN_FLAGS, isCompiled, selfCommand } from "../src/runtime.ts";

Deno.test("selfCommand() under deno run is deno run with the permission flags and main.ts", () => {
  const argv = selfCommand(["sink", "--json"], false, "/usr/bin/deno");
  assert.deepEqual(argv.slice(0, 2), ["/usr/bin/deno", "run"]);
  for (const f of DEV_RUN_FLAGS) assert.ok(argv.includes(f));
  assert.match(argv[argv.length - 3], /\/main\.ts$/);
  assert.deepEqual(argv.slice(-2), ["sink", "--json"]);
});

Deno.test("selfCommand() in the compiled executable is the executable itself", () => {
  assert.deepEqual(selfCommand(["run", "--config", "x"], true, "/usr/local/bin/mcr"), [
    "/usr/local/bin/mcr",
    "run",
    "--config",
    "x",
  ]);
});

Deno.test("the argv selfCommand() builds here runs this program: `mcr version` answers", async () => {
  assert.equal(isCompiled(), Deno.build.standalone);
  const [cmd, ...args] = selfCommand(["version"]);
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.match(new TextDecoder().decode(out.stdout), /^mcr \d+\.\d+\.\d+/);
});
