/**
 * The merged pairs (src/merge/): GET /api/v1/merges and /api/v1/merges/:name
 * (each pair's figures, its legs' state and figures, the switch log and its
 * health), and PUT /api/v1/merges/:name/lock, the manual lock of a failover
 * pair: {"leg": 1} sends that leg alone, {"leg": null} lifts the lock. The
 * answer is the pair's report with the lock in force.
 */
import { Hono } from "hono";
import type { RelayControl } from "../../supervisor/control.ts";
import { ApiError, jsonBody, zodIssues } from "../errors.ts";
import { LockBody } from "../responses.ts";

export interface MergesDeps {
  relay: RelayControl;
}

/** The routes to mount at /api/v1/merges. */
export function mergeRoutes(deps: MergesDeps): Hono {
  const routes = new Hono();
  const relay = deps.relay;
  routes.get("/", (c) => c.json(relay.merges?.() ?? []));
  routes.get("/:name", (c) => {
    const name = c.req.param("name");
    const report = relay.merges?.(name)[0];
    if (!report) throw new ApiError(404, "merge_not_found", `no merge rule named "${name}"`);
    return c.json(report);
  });
  routes.put("/:name/lock", async (c) => {
    const parsed = LockBody.safeParse(await jsonBody(c));
    if (!parsed.success) {
      throw new ApiError(400, "invalid_body", "invalid lock", zodIssues(parsed.error));
    }
    if (!relay.lockMerge) throw new ApiError(404, "not_found", "no merges in this relay");
    return c.json(relay.lockMerge(c.req.param("name"), parsed.data.leg));
  });
  return routes;
}
