/**
 * Helpers of the routing-protocol namespace tests: reading a relay's API
 * from inside its namespace, waiting for a condition, and a background
 * stream from the generator.
 */
import { selfCommand } from "../../src/runtime.ts";
import type { Topology } from "../../src/tools/topology.ts";
import type { RoutingReport, StatsSnapshot } from "../../src/supervisor/control.ts";

export const API = "http://127.0.0.1:8787";

export async function apiGet<T>(t: Topology, ns: string, path: string): Promise<T> {
  const r = await t.run(ns, ["curl", "-sf", `${API}${path}`]);
  if (r.code !== 0) throw new Error(`GET ${path} failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

export const routing = (t: Topology, ns: string): Promise<RoutingReport> =>
  apiGet<RoutingReport>(t, ns, "/api/v1/routing");
export const stats = (t: Topology, ns: string): Promise<StatsSnapshot> =>
  apiGet<StatsSnapshot>(t, ns, "/api/v1/stats");

/** Sends `body` as JSON with `method` to the relay's API in `ns`: the status and the body text. */
export async function apiSend(
  t: Topology,
  ns: string,
  method: string,
  path: string,
  body: unknown,
  maxSeconds = 10,
  headers: Record<string, string> = {},
): Promise<{ status: number; text: string }> {
  const r = await t.run(ns, [
    "curl",
    "-s",
    "--max-time",
    String(maxSeconds),
    "-w",
    "\n%{http_code}",
    "-X",
    method,
    ...Object.entries(headers).flatMap(([k, v]) => ["-H", `${k}: ${v}`]),
    "-H",
    "content-type: application/json",
    "-d",
    JSON.stringify(body),
    `${API}${path}`,
  ]);
  const at = r.stdout.lastIndexOf("\n");
  return { status: Number(r.stdout.slice(at + 1)), text: r.stdout.slice(0, at) };
}

/** PUTs the configuration changed by `mutate`; returns the HTTP status. */
export async function putConfig(
  t: Topology,
  ns: string,
  mutate: (c: Record<string, unknown>) => void,
): Promise<number> {
  const c = await apiGet<Record<string, unknown>>(t, ns, "/api/v1/config");
  mutate(c);
  return (await apiSend(t, ns, "PUT", "/api/v1/config", c)).status;
}

/** Polls `probe` every 250 ms until it returns a value other than undefined/false; throws after `ms` with `what`. */
export async function waitFor<T>(
  what: string,
  ms: number,
  probe: () => Promise<T | undefined | false>,
): Promise<T> {
  const until = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > until) {
      throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? `: ${last}` : ""}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** A stream from `mcr gen` running in the background (kill() stops it). */
export function startStream(
  t: Topology,
  ns: string,
  o: {
    group: string;
    port: number;
    rate: number;
    seconds: number;
    iface: string;
    ttl?: number;
    size?: number;
  },
): { kill(): Promise<void> } {
  const p = t.spawn(
    ns,
    selfCommand([
      "gen",
      "--group",
      o.group,
      "--port",
      String(o.port),
      "--count",
      String(o.rate * o.seconds),
      "--rate",
      String(o.rate),
      "--size",
      String(o.size ?? 200),
      "--ttl",
      String(o.ttl ?? 8),
      "--interface",
      o.iface,
      "--json",
    ]),
    { stdout: "null", stderr: "null" },
  );
  return {
    async kill() {
      try {
        p.kill("SIGKILL");
      } catch { /* gone */ }
      await p.status;
    },
  };
}

/** Packets counted on a rule's outputs on `iface` (0 when it has none there). */
export function outputPackets(s: StatsSnapshot, rule: string, iface: string): number {
  const r = s.rules.find((x) => x.name === rule);
  return r?.outputs.filter((o) => o.interface === iface).reduce(
    (n, o) => n + (o.counters.packets ?? 0),
    0,
  ) ?? 0;
}
