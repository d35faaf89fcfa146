/**
 * `make dist` needs Deno's runtime file (denort). Without network access and
 * without DENORT_BIN it must fail fast with an instruction. (Building with a
 * real denort cannot be verified on a machine that has none; the code paths
 * that differ when compiled are tested in tests/ffi/library_location_test.ts
 * and tests/runtime_test.ts.)
 */
import assert from "node:assert/strict";

const root = new URL("../..", import.meta.url).pathname;

Deno.test({
  name: "make dist without DENORT_BIN and without network fails fast with an instruction",
  ignore: Deno.env.get("MCR_DIST_ONLINE") === "1",
  fn: async () => {
    const env = { ...Deno.env.toObject() };
    delete env.DENORT_BIN;
    const out = await new Deno.Command("make", {
      args: ["-s", "dist"],
      cwd: root,
      env,
      clearEnv: true,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    if (out.code === 0) {
      // A connected machine built it: the single executable must run, alone, as mcr.
      const run = await new Deno.Command(`${root}/dist/mcr`, {
        args: ["version"],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(run.code, 0, new TextDecoder().decode(run.stderr));
      assert.match(new TextDecoder().decode(run.stdout), /^mcr \d+\.\d+\.\d+/);
      return;
    }
    assert.equal(out.code, 2, "make dist exits 2 when it cannot build");
    assert.match(text, /make dist DENORT_BIN=\/path\/to\/denort/);
    assert.match(text, /denort-x86_64-unknown-linux-gnu\.zip/);
  },
});
