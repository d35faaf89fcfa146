/**
 * /api/v1/config: the whole configuration, read (GET) or replaced (PUT).
 * A replacement is validated before it is queued (400 invalid_config) and
 * then applied and persisted like any change (./change.ts). GET answers an
 * ETag; a PUT with If-Match is refused (412) if the configuration changed
 * since (../etag.ts).
 */
import { Hono } from "hono";
import { ConfigError } from "../../config/errors.ts";
import { validateConfig } from "../../config/load.ts";
import type { Config } from "../../config/schema.ts";
import type { ApplyResult } from "../../supervisor/control.ts";
import { ApiError, invalidConfig, jsonBody } from "../errors.ts";
import { applyChange, type ChangeDeps } from "./change.ts";
import { etagOf, ifMatch, requireMatch } from "../etag.ts";

export function configRoutes(
  deps: ChangeDeps & { reload?: () => Promise<ApplyResult> },
): Hono {
  const config = new Hono();
  config.get("/", async (c) => {
    const current = deps.relay.config();
    c.header("ETag", await etagOf(current));
    return c.json(current);
  });
  config.put("/", async (c) => {
    const tags = ifMatch(c);
    const body = await jsonBody(c);
    try {
      validateConfig(body, "request body");
    } catch (err) {
      if (err instanceof ConfigError) {
        throw invalidConfig(400, "invalid configuration; nothing changed", err);
      }
      throw err;
    }
    return c.json(
      await applyChange(deps, c, async (current) => {
        await requireMatch(tags, current, "the configuration");
        return body as Config;
      }),
    );
  });
  // The file read again and applied, answered when it is in force or refused: what
  // `systemctl reload` (ExecReload=mcr reload) waits for, unlike a signal.
  config.post("/reload", async (c) => {
    if (!deps.reload) {
      throw new ApiError(404, "not_found", "this relay has no config file to reload");
    }
    return c.json(await deps.reload());
  });
  return config;
}
