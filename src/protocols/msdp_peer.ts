/**
 * One MSDP peering (RFC 3618), pure: the time is passed in, and what is to
 * be done on the wire (open a TCP connection to the peer, send bytes on a
 * session, close one) is collected in an outbox; the sockets are
 * src/supervisor/msdp_connection.ts's. The session: this side connects
 * when its address is the lower one, else it waits for the peer's; either
 * way a connection from the configured peer is taken while none is up.
 * Then keepalives, the hold timer, Source-Active messages for the sources
 * mcr relays (at once when the session comes up, then every SA
 * advertisement period) and the SA cache of what the peer advertises.
 * Not implemented: SA-Requests, encapsulated data, mesh groups, peer-RPF
 * forwarding of SAs to other peers.
 */
import type { ProtocolCounterName } from "../stats/registry.ts";
import { compareAddress } from "./ip_packet.ts";
import { buildKeepalive, buildSa, MsdpReader, type SaEntry } from "./msdp.ts";

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

/**
 * What the peering wants done on the wire. A connect attempt's result comes
 * back with its number (connected, connectFailed); a session's bytes and
 * end come back with the session's number (received, closed).
 */
export type MsdpAction =
  | { type: "connect"; attempt: number }
  | { type: "send"; session: number; bytes: Uint8Array }
  | { type: "close"; session: number };

/** The peering's timers: when each is due (Infinity: not running). */
interface Due {
  /** The connect attempt in flight gives up. */
  connect: number;
  /** The next connect attempt. */
  retry: number;
  hold: number;
  keepalive: number;
  sa: number;
}

const IDLE: Due = {
  connect: Infinity,
  retry: Infinity,
  hold: Infinity,
  keepalive: Infinity,
  sa: Infinity,
};

export class MsdpPeer {
  outbox: MsdpAction[] = [];
  #state: MsdpState = "inactive";
  #due: Due = { ...IDLE };
  /** The connect attempt in flight (0: none) and the session up (0: none). */
  #attempt = 0;
  #attempts = 0;
  #session = 0;
  #sessions = 0;
  #reader = new MsdpReader();
  #stopped = false;
  #cache = new Map<string, { entry: SaEntry; rp: string; expires: number }>();
  #upSince = 0;
  #established = 0;
  #lastError = "";

  constructor(readonly options: MsdpPeerOptions, private deps: MsdpPeerDeps) {}

  /** This side connects (RFC 3618 5: the peer with the lower address connects). */
  get active(): boolean {
    return compareAddress(this.options.local, this.options.peer) < 0;
  }

  get state(): MsdpState {
    return this.#state;
  }

  start(now: number): void {
    if (this.active) this.#connect(now);
    else this.#state = "listening";
  }

  /** The connection of `attempt` is up: the session's number, or null when it is not wanted (close it). */
  connected(attempt: number, now: number): number | null {
    if (attempt === 0 || attempt !== this.#attempt) return null;
    if (this.#stopped || this.#state === "established") return null;
    this.#attempt = 0;
    this.#due.connect = Infinity;
    return this.#up(now);
  }

  /** The connection of `attempt` could not be had. */
  connectFailed(attempt: number, reason: string, now: number): void {
    if (attempt === 0 || attempt !== this.#attempt) return;
    this.#attempt = 0;
    this.#due.connect = Infinity;
    this.#lastError = reason;
    this.#retryLater(now);
  }

  /** A connection from the peer address arrived at the listener: the session's number if taken (unless a session is up), else null. */
  accepted(now: number): number | null {
    if (this.#stopped || this.#state === "established") return null;
    return this.#up(now);
  }

  /** Bytes read on a session. */
  received(session: number, bytes: Uint8Array, now: number): void {
    if (session === 0 || session !== this.#session) return;
    this.#reader.push(bytes);
    for (let m = this.#reader.next(); m !== null; m = this.#reader.next()) {
      if (!m.ok) {
        this.deps.count("msdp_invalid");
        return this.#close(`invalid message: ${m.reason}`, now);
      }
      this.deps.count("msdp_received");
      this.#due.hold = now + this.options.holdMs;
      const v = m.value;
      if ("entries" in v) this.#learn(v.rp, v.entries, now);
    }
  }

  /** A session's connection ended (the peer closed it, a read or a write failed). */
  closed(session: number, why: string, now: number): void {
    if (session === 0 || session !== this.#session) return;
    this.#close(why, now);
  }

  /** Runs the timers due: the connect attempt gives up, connects again, the hold timer, keepalives, SAs. */
  tick(now: number): void {
    for (;;) {
      const [name, at] = (Object.entries(this.#due) as [keyof Due, number][])
        .reduce((a, b) => b[1] < a[1] ? b : a);
      if (at > now) return;
      this.#due[name] = Infinity;
      if (name === "connect") {
        this.#attempt = 0;
        this.#lastError = "connect timed out";
        this.#retryLater(now);
      } else if (name === "retry") this.#connect(now);
      else if (name === "hold") this.#close("hold timer expired", now);
      else if (name === "keepalive") {
        this.#send(buildKeepalive());
        this.#due.keepalive = now + this.options.keepaliveMs;
      } else {
        this.advertise();
        this.#due.sa = now + this.options.saIntervalMs;
      }
    }
  }

  /** When tick() next has something to do (Infinity: nothing until something arrives). */
  nextDue(_now: number): number {
    return Math.min(...Object.values(this.#due));
  }

  /** Ends the session, if one is up, for good. */
  stop(now: number): void {
    this.#stopped = true;
    this.#due.retry = Infinity;
    this.#close("stopped", now);
    this.#due = { ...IDLE };
    this.#attempt = 0;
    this.#state = "inactive";
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

  /** A connect attempt, given up after the connect-retry time (1 s at least). */
  #connect(now: number): void {
    if (this.#stopped) return;
    this.#state = "connecting";
    this.#attempt = ++this.#attempts;
    this.#due.connect = now + Math.max(1000, this.options.connectRetryMs);
    this.outbox.push({ type: "connect", attempt: this.#attempt });
  }

  #retryLater(now: number): void {
    if (this.#stopped) return;
    this.#state = this.active ? "connecting" : "listening";
    if (!this.active) return;
    this.#due.retry = now + this.options.connectRetryMs;
  }

  #up(now: number): number {
    // A session is up: no attempt in flight or to come is wanted any more.
    this.#attempt = 0;
    this.#due.connect = this.#due.retry = Infinity;
    this.#session = ++this.#sessions;
    this.#reader = new MsdpReader();
    this.#state = "established";
    this.#upSince = now;
    this.#established++;
    this.#lastError = "";
    this.deps.count("msdp_established");
    this.deps.onEvent({ peer: this.options.peer, state: "established" });
    this.#send(buildKeepalive());
    this.advertise();
    this.#due.keepalive = now + this.options.keepaliveMs;
    this.#due.sa = now + this.options.saIntervalMs;
    this.#due.hold = now + this.options.holdMs;
    return this.#session;
  }

  #learn(rp: string, entries: SaEntry[], now: number): void {
    const expires = now + this.options.saHoldMs;
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

  #send(bytes: Uint8Array): void {
    if (this.#session === 0) return;
    this.deps.count("msdp_sent");
    this.outbox.push({ type: "send", session: this.#session, bytes });
  }

  /** Closes the session, if one is up, and goes back to connecting or listening. */
  #close(why: string, now: number): void {
    if (this.#session === 0) return;
    const wasUp = this.#state === "established";
    this.outbox.push({ type: "close", session: this.#session });
    this.#session = 0;
    this.#due.hold = this.#due.keepalive = this.#due.sa = Infinity;
    if (why !== "stopped") this.#lastError = why;
    if (wasUp) this.deps.onEvent({ peer: this.options.peer, state: "down", reason: why });
    if (this.#stopped) {
      this.#state = "inactive";
      return;
    }
    this.#retryLater(now);
  }
}
