import assert from "node:assert/strict";
import { loadConfigFile } from "../../src/config/load.ts";

Deno.test("examples/mcr.yaml, which documents every option, is a valid configuration", async () => {
  const config = await loadConfigFile(new URL("../../examples/mcr.yaml", import.meta.url).pathname);
  assert.equal(config.rules[0].name, "cam1");
  assert.equal(config.rules[0].outputs.length, 2);
});
