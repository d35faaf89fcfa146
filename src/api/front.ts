/**
 * The API's front door: a TCP accept loop that keeps HTTP clients from
 * holding the relay's resources. Connections are relayed to the real HTTP
 * server (Deno.serve on a private unix socket) under limits:
 *
 *  - at most `maxConnections` at once; at the cap, the connection idle the
 *    longest is closed to admit the new one (a flood of idle connections
 *    cannot lock a real client out);
 *  - a request head must be complete within `headerTimeoutMs` of the
 *    connection or of the previous response (slowloris);
 *  - a connection with no traffic for `idleTimeoutMs` is closed;
 *  - accept errors (EMFILE under a flood) never end the loop: it backs off.
 *
 * So the number of descriptors the API can ever hold is bounded, and no
 * client can make the process run out of them or stop forwarding.
 */

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

/** Counters of what the front door refused, for logs and metrics. */
export interface FrontStats {
  accepted: number;
  evicted: number;
  header_timeouts: number;
  idle_timeouts: number;
  accept_errors: number;
  open: number;
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
  const stats: FrontStats = {
    accepted: 0,
    evicted: 0,
    header_timeouts: 0,
    idle_timeouts: 0,
    accept_errors: 0,
    open: 0,
  };
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

  const evictOne = (): void => {
    let oldest: Relayed | null = null;
    for (const r of open) if (oldest === null || r.lastActivity < oldest.lastActivity) oldest = r;
    if (oldest) {
      stats.evicted++;
      oldest.close();
    }
  };

  const relay = async (client: Deno.Conn): Promise<void> => {
    let upstream: Deno.Conn;
    try {
      upstream = await Deno.connect({ transport: "unix", path: upstreamPath });
    } catch {
      client.close();
      return;
    }
    const r = new Relayed(client, upstream, (x) => {
      open.delete(x);
      stats.open = open.size;
      sweepWhileOpen();
    });
    open.add(r);
    stats.open = open.size;
    sweepWhileOpen();
    const pump = async (from: Deno.Conn, to: Deno.Conn, seen: (chunk: Uint8Array) => void) => {
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
      r.close();
    };
    await Promise.all([
      pump(client, upstream, (c) => r.sawRequestBytes(c)),
      pump(upstream, client, () => r.sawResponseBytes()),
    ]);
  };

  (async () => {
    let backoff = 10;
    while (!stopped) {
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
      if (open.size >= limits.maxConnections) evictOne();
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
