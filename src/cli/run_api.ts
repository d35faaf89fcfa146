/**
 * Serves the API for `mcr run`: resolves the listen address and token
 * (refusing a non-loopback address without one), samples statistics for
 * rates every second, and starts Deno.serve (plus an optional unix socket).
 */
import { createApp } from "../api/app.ts";
import { isLoopbackHost, resolveToken, splitListen } from "../api/auth.ts";
import { type Config, DEFAULT_LISTEN } from "../config/schema.ts";
import type { Logger } from "../log.ts";
import { RateWindow } from "../stats/rates.ts";
import type { RelayControl } from "../supervisor/control.ts";
import { buildInfo } from "../version.ts";

export interface ApiOptions {
  supervisor: RelayControl;
  config: Config;
  listen?: string;
  persist: ((c: Config) => Promise<void>) | null;
  log: Logger;
  /** Wired only when MCR_FAULT_INJECTION=1 (tests of worker restarts). */
  injectFault?: (worker: number, kind: "throw" | "hang" | "stall" | "fail_apply", ms?: number) => boolean;
}

export async function startApi(o: ApiOptions): Promise<{ shutdown(): Promise<void>; port: number }> {
  const api = o.config.api ?? {};
  const listen = o.listen ?? api.listen ?? DEFAULT_LISTEN;
  const { host, port } = splitListen(listen);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--listen: invalid port in "${listen}"`);
  const token = resolveToken(api);
  const loopback = isLoopbackHost(host);
  if (!loopback && token === null) {
    throw new Error(
      `refusing to serve the API on non-loopback address ${listen} without a token: ` +
        "set api.token_file or api.token_env (or MCR_API_TOKEN)",
    );
  }
  if (token) o.log.redact(token);
  const rates = new RateWindow(5);
  rates.add(o.supervisor.stats());
  const sampler = setInterval(() => rates.add(o.supervisor.stats()), 1000);
  const app = createApp({
    relay: o.supervisor,
    logger: o.log,
    version: await buildInfo(),
    rates,
    token,
    tokenForReads: !loopback,
    persist: o.persist,
    bodyLimit: api.body_limit,
    injectFault: o.injectFault,
  });
  const servers: Deno.HttpServer[] = [];
  const ready = Promise.withResolvers<number>();
  servers.push(Deno.serve({
    hostname: host,
    port,
    onListen: (addr) => ready.resolve((addr as Deno.NetAddr).port),
  }, app.fetch));
  const boundPort = await ready.promise;
  if (api.unix_socket) {
    try {
      Deno.removeSync(api.unix_socket);
    } catch { /* not there */ }
    servers.push(Deno.serve({ path: api.unix_socket, onListen: () => {} }, app.fetch));
  }
  o.log.info("API listening", { listen: `${host}:${boundPort}`, unix_socket: api.unix_socket, auth: token !== null });
  return {
    port: boundPort,
    async shutdown() {
      clearInterval(sampler);
      await Promise.all(servers.map((s) => s.shutdown()));
    },
  };
}
