/**
 * The API's front door: a TCP accept loop that keeps HTTP clients from
 * holding the relay's resources. Connections are relayed to the real HTTP
 * server (Deno.serve on a private unix socket) under limits:
 *
 *  - at most `maxConnections` at once; at the cap, the connection idle the
 *    longest between requests (for EVICT_GRACE_MS at least) is closed to
 *    admit the next (a flood of idle connections cannot lock a real client
 *    out); a request being answered is never cut for a newcomer unless it
 *    has been in flight IN_FLIGHT_EVICTABLE_MS. While no connection can be
 *    closed, newcomers wait in the kernel's accept queue, in order (a flood
 *    of slow requests delays a real client by about one request's time,
 *    and cuts nobody);
 *  - a request head must be complete within `headerTimeoutMs` of the
 *    connection or of the previous response (slowloris);
 *  - a connection with no traffic for `idleTimeoutMs` is closed;
 *  - accept errors (EMFILE under a flood) never end the loop: it backs off.
 *
 * So the number of descriptors the API can ever hold is bounded, and no
 * client can make the process run out of them or stop forwarding.
 */
import type { FrontStats } from "../stats/prometheus.ts";

export interface FrontLimits {
  maxConnections: number;
  headerTimeoutMs: number;
  idleTimeoutMs: number;
}

export const DEFAULT_FRONT_LIMITS: FrontLimits = {
  maxConnections: 256,
  headerTimeoutMs: 10_000,
  idleTimeoutMs: 30_000,
};

/** Counters of what the front door did: declared with the /metrics families that show them. */
export type { FrontStats };

/** Every counter at zero. */
export function noFrontStats(): FrontStats {
  return {
    accepted: 0,
    evicted: 0,
    cap_waits: 0,
    header_timeouts: 0,
    idle_timeouts: 0,
    accept_errors: 0,
    open: 0,
  };
}

const CRLFCRLF = [13, 10, 13, 10];

class Relayed {
  lastActivity = Date.now();
  /** Since when a request head is awaited (null: one is being answered). */
  awaitingHeadSince: number | null = Date.now();
  #tail = 0; // how many bytes of CRLFCRLF matched so far
  #closed = false;

  constructor(
    readonly client: Deno.Conn,
    readonly upstream: Deno.Conn,
    readonly onClose: (r: Relayed) => void,
  ) {}

  /** Client -> server bytes: watches for the end of a request head. */
  sawRequestBytes(chunk: Uint8Array): void {
    this.lastActivity = Date.now();
    if (this.awaitingHeadSince === null) return;
    for (let i = 0; i < chunk.length; i++) {
      this.#tail = chunk[i] === CRLFCRLF[this.#tail] ? this.#tail + 1 : chunk[i] === 13 ? 1 : 0;
      if (this.#tail === 4) {
        this.awaitingHeadSince = null;
        this.#tail = 0;
        return;
      }
    }
  }

  /** Server -> client bytes: a response is under way; the next request head is awaited from now. */
  sawResponseBytes(): void {
    this.lastActivity = Date.now();
    this.awaitingHeadSince = Date.now();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const c of [this.client, this.upstream]) {
      try {
        c.close();
      } catch { /* already closed */ }
    }
    this.onClose(this);
  }
}

/** Copies `from` to `to` until `from` ends or either fails; `seen` watches each chunk. */
async function pump(
  from: Deno.Conn,
  to: Deno.Conn,
  seen: (chunk: Uint8Array) => void,
): Promise<void> {
  const buf = new Uint8Array(16 * 1024);
  try {
    for (;;) {
      const n = await from.read(buf);
      if (n === null) break;
      const chunk = buf.subarray(0, n);
      seen(chunk);
      for (let off = 0; off < n;) off += await to.write(chunk.subarray(off));
    }
  } catch { /* closed or reset */ }
}

/** A connection between requests may be closed at the cap once idle this long (ms): a new client gets time to send its request head. */
export const EVICT_GRACE_MS = 20;
/** A request in flight this long (ms) may be closed at the cap like an idle connection. */
export const IN_FLIGHT_EVICTABLE_MS = 10_000;

/**
 * Whom the cap closes to admit a newcomer at `now`: the connection idle the
 * longest between requests (idle EVICT_GRACE_MS at least), else the request
 * in flight the longest (IN_FLIGHT_EVICTABLE_MS at least); null: none may be.
 */
function evictionVictim(open: Iterable<Relayed>, now: number): Relayed | null {
  let between: Relayed | null = null;
  let inFlight: Relayed | null = null;
  for (const r of open) {
    const idle = now - r.lastActivity;
    if (r.awaitingHeadSince !== null) {
      if (idle >= EVICT_GRACE_MS && (between === null || r.lastActivity < between.lastActivity)) {
        between = r;
      }
    } else if (
      idle >= IN_FLIGHT_EVICTABLE_MS &&
      (inFlight === null || r.lastActivity < inFlight.lastActivity)
    ) {
      inFlight = r;
    }
  }
  return between ?? inFlight;
}

/**
 * Accepts on `listener` and relays each connection to the unix socket
 * `upstreamPath` under `limits`. Returns a stop function and live stats.
 */
export function serveFront(
  listener: Deno.Listener,
  upstreamPath: string,
  limits: FrontLimits = DEFAULT_FRONT_LIMITS,
  onEvent: (what: string, fields: Record<string, unknown>) => void = () => {},
): { stop(): void; stats(): FrontStats } {
  const open = new Set<Relayed>();
  const stats = noFrontStats();
  let stopped = false;

  // The sweep runs only while connections are open: an idle relay is not woken for it.
  let sweeper: ReturnType<typeof setInterval> | undefined;
  const sweep = (): void => {
    const now = Date.now();
    for (const r of open) {
      if (r.awaitingHeadSince !== null && now - r.awaitingHeadSince > limits.headerTimeoutMs) {
        stats.header_timeouts++; // a slow (slowloris) or idle keep-alive client
        r.close();
      } else if (now - r.lastActivity > limits.idleTimeoutMs) {
        stats.idle_timeouts++;
        r.close();
      }
    }
  };
  const sweepWhileOpen = (): void => {
    if (open.size > 0 && sweeper === undefined && !stopped) sweeper = setInterval(sweep, 1000);
    else if (open.size === 0 && sweeper !== undefined) {
      clearInterval(sweeper);
      sweeper = undefined;
    }
  };

  /** Closes one connection to make room; false when none may be closed now. */
  const evictOne = (): boolean => {
    const victim = evictionVictim(open, Date.now());
    if (victim === null) return false;
    stats.evicted++;
    victim.close();
    return true;
  };
  // Connections accepted but not yet in `open` (their upstream is being connected).
  let starting = 0;
  /** Until there is room under the cap: evicts, or waits while every connection is busy. */
  const room = async (): Promise<void> => {
    let waited = false;
    while (!stopped && open.size + starting >= limits.maxConnections && !evictOne()) {
      if (!waited) stats.cap_waits++;
      waited = true;
      await new Promise((res) => setTimeout(res, 10));
    }
  };

  const relay = async (client: Deno.Conn): Promise<void> => {
    let upstream: Deno.Conn;
    starting++;
    try {
      upstream = await Deno.connect({ transport: "unix", path: upstreamPath });
    } catch {
      client.close();
      return;
    } finally {
      starting--;
    }
    const r = new Relayed(client, upstream, (x) => {
      open.delete(x);
      stats.open = open.size;
      sweepWhileOpen();
    });
    open.add(r);
    stats.open = open.size;
    sweepWhileOpen();
    // Either direction ending ends the connection.
    await Promise.all([
      pump(client, upstream, (c) => r.sawRequestBytes(c)).finally(() => r.close()),
      pump(upstream, client, () => r.sawResponseBytes()).finally(() => r.close()),
    ]);
  };

  (async () => {
    let backoff = 10;
    while (!stopped) {
      await room();
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
        backoff = 10;
      } catch (err) {
        if (stopped || err instanceof Deno.errors.BadResource) break;
        // EMFILE/ENFILE under a flood, or a transient error: never stop serving.
        stats.accept_errors++;
        onEvent("accept failed", { error: (err as Error).message });
        if (open.size > 0) evictOne();
        await new Promise((res) => setTimeout(res, backoff));
        backoff = Math.min(1000, backoff * 2);
        continue;
      }
      stats.accepted++;
      relay(conn).catch(() => {});
    }
  })();

  return {
    stop() {
      stopped = true;
      clearInterval(sweeper);
      sweeper = undefined;
      try {
        listener.close();
      } catch { /* closed */ }
      for (const r of [...open]) r.close();
    },
    stats: () => ({ ...stats }),
  };
}
