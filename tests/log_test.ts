/**
 * Logs (src/log.ts): one JSON object per line; levels filter; secrets are
 * redacted; under journald each line carries its syslog priority.
 */
import assert from "node:assert/strict";
import { createLogger } from "../src/log.ts";

Deno.test("each record is one JSON line; below the level nothing is written; a secret never appears", () => {
  const lines: string[] = [];
  const log = createLogger({ level: "info", write: (l) => lines.push(l), journal: false });
  log.redact("s3cret");
  log.debug("hidden");
  log.info("started", { token: "Bearer s3cret", n: 2 });
  assert.equal(lines.length, 1);
  const r = JSON.parse(lines[0]);
  assert.equal(r.level, "info");
  assert.equal(r.msg, "started");
  assert.equal(r.token, "Bearer [redacted]");
  assert.equal(r.n, 2);
});

Deno.test("under journald each line starts with its syslog priority (<3> error ... <7> debug), then the JSON", () => {
  const lines: string[] = [];
  const log = createLogger({ level: "debug", write: (l) => lines.push(l), journal: true });
  log.error("e");
  log.warn("w");
  log.info("i");
  log.debug("d");
  assert.deepEqual(lines.map((l) => l.slice(0, 3)), ["<3>", "<4>", "<6>", "<7>"]);
  for (const l of lines) JSON.parse(l.slice(3));
});
