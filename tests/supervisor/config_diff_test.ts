import assert from "node:assert/strict";
import type { Config } from "../../src/config/schema.ts";
import { restartOnlyKey } from "../../src/supervisor/config_diff.ts";

const base: Config = { rules: [] };

Deno.test("restartOnlyKey() names api changes, and lets rules, ring, workers and log.level through", () => {
  assert.equal(
    restartOnlyKey(base, { ...base, workers: 2 }),
    null,
    "the worker count changes live",
  );
  assert.equal(restartOnlyKey(base, { ...base, api: { listen: "0.0.0.0:8787" } }), "api");
  assert.equal(restartOnlyKey(base, { ...base, api: { unix_socket: "/etc/passwd" } }), "api");
  assert.equal(restartOnlyKey(base, { ...base, log: { level: "debug" } }), null);
  assert.equal(restartOnlyKey(base, { ...base, ring: { tx_frames: 1024 } }), null);
});

Deno.test("restartOnlyKey() names a standby_workers change (the standbys are started with the relay)", () => {
  const base = { rules: [] };
  assert.equal(restartOnlyKey(base, { ...base, standby_workers: false }), "standby_workers");
  assert.equal(
    restartOnlyKey(base, { ...base, standby_workers: true }),
    null,
    "true is the default",
  );
});
