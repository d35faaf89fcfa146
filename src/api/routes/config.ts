/**
 * /api/v1/config: the whole configuration, read (GET) or replaced (PUT).
 * A replacement is validated before it is queued (400 invalid_config) and
 * then applied and persisted like any change (./change.ts).
 */
import { Hono } from "hono";
import { ConfigError } from "../../config/errors.ts";
import { validateConfig } from "../../config/load.ts";
import type { Config } from "../../config/schema.ts";
import { invalidConfig, jsonBody } from "../errors.ts";
import { applyChange, type ChangeDeps } from "./change.ts";

export function configRoutes(deps: ChangeDeps): Hono {
  const config = new Hono();
  config.get("/", (c) => c.json(deps.relay.config()));
  config.put("/", async (c) => {
    const body = await jsonBody(c);
    try {
      validateConfig(body, "request body");
    } catch (err) {
      if (err instanceof ConfigError) {
        throw invalidConfig(400, "invalid configuration; nothing changed", err);
      }
      throw err;
    }
    return c.json(await applyChange(deps, () => body as Config));
  });
  return config;
}
