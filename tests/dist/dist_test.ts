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
    const started = performance.now();
    const out = await new Deno.Command("make", { args: ["-s", "dist"], cwd: root, env, clearEnv: true, stdout: "piped", stderr: "piped" }).output();
    const seconds = (performance.now() - started) / 1000;
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    if (out.code === 0) return; // a connected machine built it: nothing to check here
    assert.match(text, /make dist DENORT_BIN=\/path\/to\/denort/);
    assert.match(text, /denort-x86_64-unknown-linux-gnu\.zip/);
    assert.ok(seconds < 60, `failed in ${seconds.toFixed(1)} s`);
  },
});
