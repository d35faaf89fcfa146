/**
 * Serves the API for `mcr run`, in two steps so that nothing is half done:
 *
 *  prepareApi()  before the relay starts: resolves and checks the listen
 *                address, the token and the unix socket path, and binds the
 *                listeners; any problem stops `mcr run` before a ring is
 *                created or a group joined;
 *  startApi()    after: serves the Hono app behind the front door
 *                (src/api/front.ts: connection cap, header and idle timeouts)
 *                on private unix sockets, and samples statistics for rates.
 */
import { createApp } from "../api/app.ts";
import { isLoopbackHost, resolveToken, splitListen } from "../api/auth.ts";
import { DEFAULT_FRONT_LIMITS, type FrontStats, noFrontStats, serveFront } from "../api/front.ts";
import { type Config, DEFAULT_LISTEN, LISTEN_PATTERN } from "../config/schema.ts";
import type { Persist } from "../config/persist.ts";
import type { Logger } from "../log.ts";
import { RateWindow } from "../stats/rates.ts";
import { LastMoved } from "../stats/last_moved.ts";
import type { ApplyResult, RelayControl } from "../supervisor/control.ts";
import { buildInfo } from "../version.ts";
import type { EventBus } from "../events.ts";
import { evaluateHealth } from "../stats/health.ts";
import type { FaultKind } from "../api/routes/views.ts";

/** What prepareApi() checked and bound. */
export interface PreparedApi {
  listen: string;
  host: string;
  loopback: boolean;
  token: string | null;
  tcp: Deno.TcpListener;
  unix: Deno.UnixListener | null;
  unixPath: string | null;
  close(): void;
}

/** Checks everything the API needs and binds its listeners; throws with the cause otherwise. */
export function prepareApi(config: Config, listenOverride?: string): PreparedApi {
  const api = config.api ?? {};
  const listen = listenOverride ?? api.listen ?? DEFAULT_LISTEN;
  if (!LISTEN_PATTERN.test(listen)) {
    throw new Error(`--listen: "${listen}" is not host:port (e.g. 127.0.0.1:8787)`);
  }
  const { host, port } = splitListen(listen);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`--listen: invalid port in "${listen}"`);
  }
  const token = resolveToken(api);
  const loopback = isLoopbackHost(host);
  if (!loopback && token === null) {
    throw new Error(
      `refusing to serve the API on non-loopback address ${listen} without a token: ` +
        "set api.token_file or api.token_env (or MCR_API_TOKEN)",
    );
  }
  let unixPath: string | null = null;
  if (api.unix_socket) {
    unixPath = api.unix_socket;
    // Only a stale socket of ours is replaced: never any other kind of file.
    try {
      const st = Deno.lstatSync(unixPath);
      if (!st.isSocket) {
        throw new Error(
          `api.unix_socket: ${unixPath} exists and is not a socket; refusing to replace it`,
        );
      }
      Deno.removeSync(unixPath);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
  let tcp: Deno.TcpListener;
  try {
    tcp = Deno.listen({ hostname: host, port });
  } catch (err) {
    throw new Error(`cannot listen on ${listen}: ${(err as Error).message}`);
  }
  let unix: Deno.UnixListener | null = null;
  if (unixPath) {
    try {
      unix = Deno.listen({ transport: "unix", path: unixPath });
    } catch (err) {
      tcp.close();
      throw new Error(`cannot listen on unix socket ${unixPath}: ${(err as Error).message}`);
    }
  }
  return {
    listen,
    host,
    loopback,
    token,
    tcp,
    unix,
    unixPath,
    close() {
      for (const l of [tcp, unix]) {
        try {
          l?.close();
        } catch { /* closed */ }
      }
    },
  };
}

export interface ApiOptions {
  supervisor: RelayControl;
  config: Config;
  prepared: PreparedApi;
  persist: Persist | null;
  log: Logger;
  /** Wired only when MCR_FAULT_INJECTION=1 (tests of worker restarts). */
  injectFault?: (
    worker: number,
    kind: FaultKind,
    ms?: number,
  ) => boolean;
  /** The event stream; the sampler adds stats every second and health transitions. */
  events?: EventBus;
  /** Reloads the config file (POST /api/v1/config/reload, mcr reload). */
  reload?: () => Promise<ApplyResult>;
}

/** The front doors' counters (TCP and unix socket) added up. */
function frontTotals(fronts: readonly { stats(): FrontStats }[]): FrontStats {
  const total = noFrontStats();
  for (const f of fronts) {
    const s = f.stats();
    for (const k of Object.keys(total) as (keyof FrontStats)[]) total[k] += s[k];
  }
  return total;
}

export async function startApi(
  o: ApiOptions,
): Promise<{ shutdown(): Promise<void>; port: number; front(): FrontStats }> {
  const api = o.config.api ?? {};
  const p = o.prepared;
  if (p.token) o.log.redact(p.token);
  const rates = new RateWindow(5);
  const moved = new LastMoved();
  const sample = sampler(o.supervisor, o.events, rates, moved);
  // On the supervisor's own one-second timer when it has one: one wake a second, not two.
  let stopSampling: () => void;
  if (o.supervisor.everySecond) stopSampling = o.supervisor.everySecond(sample);
  else {
    const timer = setInterval(sample, 1000);
    stopSampling = () => clearInterval(timer);
  }
  const fronts: ReturnType<typeof serveFront>[] = [];
  const app = createApp({
    relay: o.supervisor,
    logger: o.log,
    version: await buildInfo(),
    rates,
    token: p.token,
    tokenForReads: !p.loopback,
    hosts: { loopback: p.loopback, allowed: api.allowed_hosts ?? [] },
    persist: o.persist,
    bodyLimit: api.body_limit,
    injectFault: o.injectFault,
    events: o.events,
    reload: o.reload,
    moved,
    front: () => frontTotals(fronts),
  });
  // The HTTP servers listen on private sockets; clients reach them through the front door.
  const dir = Deno.makeTempDirSync({ prefix: "mcr-api-" });
  const servers: Deno.HttpServer[] = [];
  const limits = {
    ...DEFAULT_FRONT_LIMITS,
    maxConnections: api.max_connections ?? DEFAULT_FRONT_LIMITS.maxConnections,
  };
  const onEvent = (msg: string, fields: Record<string, unknown>) =>
    o.log.warn(`API front door: ${msg}`, fields);
  for (
    const [name, listener, transport] of [["tcp", p.tcp, "tcp"], ["unix", p.unix, "unix"]] as const
  ) {
    if (!listener) continue;
    const path = `${dir}/${name}.sock`;
    const ready = Promise.withResolvers<void>();
    servers.push(
      Deno.serve({ path, onListen: () => ready.resolve() }, (req) => app.fetch(req, { transport })),
    );
    await ready.promise;
    fronts.push(serveFront(listener, path, limits, onEvent));
  }
  const port = (p.tcp.addr as Deno.NetAddr).port;
  o.log.info("API listening", {
    listen: `${p.host}:${port}`,
    unix_socket: p.unixPath,
    auth: p.token !== null,
  });
  return {
    port,
    front: () => frontTotals(fronts),
    async shutdown() {
      stopSampling();
      o.events?.closeAll(); // open event streams end, so the servers can shut down
      for (const f of fronts) f.stop();
      await Promise.all(servers.map((s) => s.shutdown()));
      try {
        Deno.removeSync(dir, { recursive: true });
      } catch { /* gone */ }
      if (p.unixPath) {
        try {
          Deno.removeSync(p.unixPath);
        } catch { /* gone */ }
      }
    },
  };
}

/**
 * The once-a-second sample: counters into the rate window and the
 * last-moved times, then (only while someone listens) a stats event and a
 * health event when the verdict changed. Takes the first sample at once.
 */
function sampler(
  relay: RelayControl,
  bus: EventBus | undefined,
  rates: RateWindow,
  moved: LastMoved,
): () => void {
  const take = () => {
    const s = relay.counterSample(rates.spare());
    rates.add(s);
    moved.add(s);
  };
  take();
  let health: string | null = null;
  return () => {
    take();
    if (!bus || bus.subscribers === 0) return; // nobody listens: no work
    const r = rates.rates();
    const t = r.totals;
    bus.publish("stats", {
      rx_pps: Math.round(t.rx_packets ?? 0),
      tx_pps: Math.round(t.tx_sent ?? 0),
      loss_pps: (t.kernel_drops ?? 0) + (t.tx_ring_full ?? 0) + (t.tx_errors ?? 0),
      rules: Object.fromEntries(
        Object.entries(r.rules).map(([name, x]) => [name, Math.round(x.pps)]),
      ),
    });
    const report = evaluateHealth(
      relay.stats("states"),
      relay.interfaces(),
      relay.config(),
      r,
      {},
      relay.streams?.() ?? [],
      relay.merges?.() ?? [],
    );
    if (report.status !== health) {
      if (health !== null) {
        bus.publish("health", { from: health, to: report.status, reasons: report.reasons });
      }
      health = report.status;
    }
  };
}
