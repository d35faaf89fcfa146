import assert from "node:assert/strict";
import type { Config } from "../../src/config/schema.ts";
import { restartOnlyKey } from "../../src/supervisor/live_keys.ts";

const base: Config = { rules: [] };

Deno.test("restartOnlyKey() names workers and api changes, and lets rules, ring and log.level through", () => {
  assert.equal(restartOnlyKey(base, { ...base, workers: 2 }), "workers");
  assert.equal(restartOnlyKey({ ...base, workers: 1 }, base), null, "workers: 1 is the default");
  assert.equal(restartOnlyKey(base, { ...base, api: { listen: "0.0.0.0:8787" } }), "api");
  assert.equal(restartOnlyKey(base, { ...base, api: { unix_socket: "/etc/passwd" } }), "api");
  assert.equal(restartOnlyKey(base, { ...base, log: { level: "debug" } }), null);
  assert.equal(restartOnlyKey(base, { ...base, ring: { tx_frames: 1024 } }), null);
});
