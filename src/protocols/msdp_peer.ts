/**
 * One MSDP peering (RFC 3618) over TCP port 639: the connection (this side
 * connects when its address is the lower one, else it waits for the peer's;
 * either way a connection from the configured peer is taken while none is
 * up), keepalives, the hold timer, Source-Active messages for the sources
 * mcr relays (at once when the session comes up, then every SA
 * advertisement period) and the SA cache of what the peer advertises.
 * Not implemented: SA-Requests, encapsulated data, mesh groups, peer-RPF
 * forwarding of SAs to other peers.
 */
import type { ProtocolCounterName } from "../stats/registry.ts";
import { compareAddress } from "./ip_packet.ts";
import { buildKeepalive, buildSa, MSDP_PORT, MsdpReader, type SaEntry } from "./msdp.ts";

export interface MsdpPeerOptions {
  peer: string;
  local: string;
  /** RP address written into SAs (default: local). */
  originator?: string;
  keepaliveMs: number;
  holdMs: number;
  connectRetryMs: number;
  saIntervalMs: number;
  /** How long a learned SA is kept without being refreshed. */
  saHoldMs: number;
  maxSa: number;
  port?: number;
}

export type MsdpCounter = Extract<ProtocolCounterName, `msdp_${string}`>;

export interface MsdpPeerDeps {
  advertised: () => SaEntry[];
  count: (c: MsdpCounter, n?: number) => void;
  onEvent: (data: Record<string, unknown>) => void;
}

export interface SaCacheEntry {
  source: string;
  group: string;
  rp: string;
  peer: string;
  expires_ms: number;
}

export type MsdpState = "inactive" | "connecting" | "listening" | "established";

export class MsdpPeer {
  #state: MsdpState = "inactive";
  #conn: Deno.Conn | null = null;
  #timers: ReturnType<typeof setInterval>[] = [];
  #hold: ReturnType<typeof setTimeout> | undefined;
  #retry: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;
  #writing: Promise<void> = Promise.resolve();
  #cache = new Map<string, { entry: SaEntry; rp: string; expires: number }>();
  #upSince = 0;
  #established = 0;
  #lastError = "";

  constructor(readonly options: MsdpPeerOptions, private deps: MsdpPeerDeps) {}

  /** This side connects (RFC 3618 5: the peer with the lower address connects). */
  get active(): boolean {
    return compareAddress(this.options.local, this.options.peer) < 0;
  }

  start(): void {
    if (this.active) this.#connect();
    else this.#state = "listening";
  }

  /** A connection from the peer address arrived at the listener: taken unless a session is up. */
  accept(conn: Deno.Conn): boolean {
    if (this.#stopped || this.#state === "established") return false;
    this.#up(conn);
    return true;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#retry);
    this.#close("stopped");
    this.#state = "inactive";
    await this.#writing.catch(() => {});
  }

  /** Sends the current SAs now (e.g. when the relayed sources changed). */
  advertise(): void {
    if (this.#state !== "established") return;
    const entries = this.deps.advertised();
    for (const m of buildSa(this.options.originator ?? this.options.local, entries)) this.#send(m);
  }

  expire(now: number): void {
    for (const [k, c] of this.#cache) if (c.expires <= now) this.#cache.delete(k);
  }

  cache(now: number): SaCacheEntry[] {
    return [...this.#cache.values()].filter((c) => c.expires > now).map((c) => ({
      ...c.entry,
      rp: c.rp,
      peer: this.options.peer,
      expires_ms: c.expires - now,
    }));
  }

  info(now: number): Record<string, unknown> {
    return {
      peer: this.options.peer,
      local: this.options.local,
      state: this.#state,
      role: this.active ? "connect" : "listen",
      up_ms: this.#state === "established" ? now - this.#upSince : 0,
      established_count: this.#established,
      sa_count: this.#cache.size,
      last_error: this.#lastError || null,
    };
  }

  get state(): MsdpState {
    return this.#state;
  }

  #connect(): void {
    if (this.#stopped) return;
    this.#state = "connecting";
    let settled = false;
    const giveUp = setTimeout(() => {
      if (settled) return;
      settled = true;
      this.#lastError = "connect timed out";
      this.#retryLater();
    }, Math.max(1000, this.options.connectRetryMs));
    Deno.connect({ hostname: this.options.peer, port: this.options.port ?? MSDP_PORT }).then(
      (conn) => {
        clearTimeout(giveUp);
        if (settled || this.#stopped || this.#state === "established") {
          conn.close();
          return;
        }
        settled = true;
        this.#up(conn);
      },
      (err) => {
        clearTimeout(giveUp);
        if (settled) return;
        settled = true;
        this.#lastError = (err as Error).message;
        this.#retryLater();
      },
    );
  }

  #retryLater(): void {
    if (this.#stopped) return;
    this.#state = this.active ? "connecting" : "listening";
    if (!this.active) return;
    clearTimeout(this.#retry);
    this.#retry = setTimeout(() => this.#connect(), this.options.connectRetryMs);
  }

  #up(conn: Deno.Conn): void {
    this.#conn = conn;
    this.#state = "established";
    this.#upSince = Date.now();
    this.#established++;
    this.#lastError = "";
    this.deps.count("msdp_established");
    this.deps.onEvent({ peer: this.options.peer, state: "established" });
    this.#send(buildKeepalive());
    this.advertise();
    this.#timers.push(setInterval(() => this.#send(buildKeepalive()), this.options.keepaliveMs));
    this.#timers.push(setInterval(() => this.advertise(), this.options.saIntervalMs));
    this.#resetHold();
    this.#read(conn);
  }

  async #read(conn: Deno.Conn): Promise<void> {
    const reader = new MsdpReader();
    const buf = new Uint8Array(16384);
    try {
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) return this.#close("peer closed the connection", conn);
        reader.push(buf.subarray(0, n));
        for (let m = reader.next(); m !== null; m = reader.next()) {
          if (!m.ok) {
            this.deps.count("msdp_invalid");
            return this.#close(`invalid message: ${m.reason}`, conn);
          }
          this.deps.count("msdp_received");
          this.#resetHold();
          const v = m.value;
          if ("entries" in v) this.#learn(v.rp, v.entries);
        }
      }
    } catch (err) {
      this.#close((err as Error).message, conn);
    }
  }

  #learn(rp: string, entries: SaEntry[]): void {
    const expires = Date.now() + this.options.saHoldMs;
    for (const e of entries) {
      const key = `${rp}|${e.source}|${e.group}`;
      const known = this.#cache.get(key);
      if (!known && this.#cache.size >= this.options.maxSa) {
        this.deps.count("msdp_sa_refused");
        continue;
      }
      this.#cache.set(key, { entry: { source: e.source, group: e.group }, rp, expires });
    }
  }

  #resetHold(): void {
    clearTimeout(this.#hold);
    const conn = this.#conn;
    this.#hold = setTimeout(() => this.#close("hold timer expired", conn), this.options.holdMs);
  }

  #send(bytes: Uint8Array): void {
    const conn = this.#conn;
    if (conn === null) return;
    this.deps.count("msdp_sent");
    this.#writing = this.#writing.then(async () => {
      for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
    }).catch((err) => this.#close(`write failed: ${(err as Error).message}`, conn));
  }

  /** Closes the session (only the given connection's, if one is named) and goes back to connecting or listening. */
  #close(why: string, which: Deno.Conn | null = this.#conn): void {
    if (which === null || which !== this.#conn) return;
    const wasUp = this.#state === "established";
    this.#conn = null;
    for (const t of this.#timers) clearInterval(t);
    this.#timers = [];
    clearTimeout(this.#hold);
    try {
      which.close();
    } catch { /* already closed */ }
    if (why !== "stopped") this.#lastError = why;
    if (wasUp) this.deps.onEvent({ peer: this.options.peer, state: "down", reason: why });
    if (this.#stopped) {
      this.#state = "inactive";
      return;
    }
    this.#retryLater();
  }
}
