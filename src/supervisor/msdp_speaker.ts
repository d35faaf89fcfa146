/**
 * mcr's MSDP side (one peering is src/protocols/msdp_peer.ts, on the TCP of
 * msdp_connection.ts): the peers of the configuration in force and the TCP
 * listeners on their local addresses, which hand a connection to the peer
 * it comes from. A listener whose address is not on this host yet is
 * retried; any other failure to listen refuses the configuration.
 */
import type { Config } from "../config/schema.ts";
import { MSDP_PORT, type SaEntry } from "../protocols/msdp.ts";
import type { MsdpCounter, SaCacheEntry } from "../protocols/msdp_peer.ts";
import { MsdpConnection } from "./msdp_connection.ts";

export interface MsdpSpeakerDeps {
  advertised: () => SaEntry[];
  count: (c: MsdpCounter, n?: number) => void;
  onEvent: (data: Record<string, unknown>) => void;
  log: {
    info(msg: string, f?: Record<string, unknown>): void;
    warn(msg: string, f?: Record<string, unknown>): void;
  };
}

/** What prepare() opened for a configuration, to put in force (commit) or throw away (abort). */
export interface MsdpChange {
  commit(): Promise<void>;
  abort(): void;
}

const RETRY_MS = 5000;

export class MsdpSpeaker {
  #peers = new Map<string, { peer: MsdpConnection; key: string }>();
  #listeners = new Map<string, { listener: Deno.Listener; done: Promise<void> }>();
  /** Local addresses whose listener waits for the address to come. */
  #waiting = new Set<string>();
  #retryAt = -Infinity;

  constructor(private deps: MsdpSpeakerDeps) {}

  /** Opens the listeners `config` needs (throws, having closed them, if one cannot be had); changes nothing yet. */
  prepare(config: Config): MsdpChange {
    const locals = new Set((config.msdp?.peers ?? []).map((p) => p.local));
    const opened: Deno.Listener[] = [];
    const missing = new Set<string>();
    try {
      for (const local of locals) {
        if (this.#listeners.has(local)) continue;
        const l = this.#listen(local);
        if (l) opened.push(l);
        else missing.add(local);
      }
    } catch (err) {
      for (const l of opened) l.close();
      throw err;
    }
    return {
      abort: () => {
        for (const l of opened) l.close();
      },
      commit: () => this.#commit(config, locals, opened, missing),
    };
  }

  async #commit(
    config: Config,
    locals: Set<string>,
    opened: Deno.Listener[],
    missing: Set<string>,
  ): Promise<void> {
    const closing: Promise<void>[] = [];
    for (const l of opened) this.#adopt(l);
    this.#waiting = missing;
    // Peers whose settings changed start afresh.
    const wanted = new Map((config.msdp?.peers ?? []).map((p) => [p.address, p]));
    for (const [address, p] of this.#peers) {
      const want = wanted.get(address);
      if (want && peerKey(config, want) === p.key) continue;
      this.#peers.delete(address);
      closing.push(p.peer.stop());
    }
    for (const [address, p] of wanted) {
      if (this.#peers.has(address)) continue;
      const m = config.msdp!;
      const peer = new MsdpConnection({
        peer: p.address,
        local: p.local,
        originator: m.originator,
        keepaliveMs: m.keepalive_ms ?? 60_000,
        holdMs: m.hold_time_ms ?? 75_000,
        connectRetryMs: m.connect_retry_ms ?? 30_000,
        saIntervalMs: m.sa_interval_ms ?? 60_000,
        saHoldMs: m.sa_hold_ms ?? 150_000,
        maxSa: m.max_sa ?? 10_000,
      }, {
        advertised: this.deps.advertised,
        count: this.deps.count,
        onEvent: (data) => {
          this.deps.log.info(`MSDP peer ${p.address} ${data.state}`, data);
          this.deps.onEvent(data);
        },
      });
      this.#peers.set(address, { peer, key: peerKey(config, p) });
      peer.start();
    }
    for (const [local, l] of this.#listeners) {
      if (locals.has(local)) continue;
      this.#listeners.delete(local);
      l.listener.close();
      closing.push(l.done);
    }
    await Promise.all(closing);
  }

  /** Local addresses still waiting for their listener. */
  waiting(): string[] {
    return [...this.#waiting];
  }

  /** Tries the waiting listeners again (every 5 s at most); returns when to call it next, or Infinity. */
  retry(now: number): number {
    if (this.#waiting.size === 0) return Infinity;
    if (now - this.#retryAt < RETRY_MS) return this.#retryAt + RETRY_MS;
    this.#retryAt = now;
    for (const local of [...this.#waiting]) {
      try {
        const l = this.#listen(local);
        if (!l) continue;
        this.#adopt(l);
        this.#waiting.delete(local);
        this.deps.log.info(`MSDP listening on ${local}:${MSDP_PORT}`, {});
      } catch (err) {
        this.deps.log.warn("MSDP listener still cannot open", { error: (err as Error).message });
      }
    }
    return this.#waiting.size === 0 ? Infinity : now + RETRY_MS;
  }

  /** Sends SAs to every established peer now. */
  advertise(): void {
    for (const p of this.#peers.values()) p.peer.advertise();
  }

  status(now: number): { peers: Record<string, unknown>[]; sa_cache: SaCacheEntry[] } {
    for (const p of this.#peers.values()) p.peer.expire(now);
    return {
      peers: [...this.#peers.values()].map((p) => p.peer.info(now)),
      sa_cache: [...this.#peers.values()].flatMap((p) => p.peer.cache(now)),
    };
  }

  async stop(): Promise<void> {
    const closing: Promise<void>[] = [];
    for (const p of this.#peers.values()) closing.push(p.peer.stop());
    for (const l of this.#listeners.values()) {
      l.listener.close();
      closing.push(l.done);
    }
    this.#peers.clear();
    this.#listeners.clear();
    this.#waiting.clear();
    await Promise.all(closing);
  }

  /** The listener on local:639; null while that address is not on this host. */
  #listen(local: string): Deno.Listener | null {
    try {
      return Deno.listen({ hostname: local, port: MSDP_PORT, transport: "tcp" });
    } catch (err) {
      if (err instanceof Deno.errors.AddrNotAvailable) return null;
      throw new Error(`MSDP cannot listen on ${local}:${MSDP_PORT}: ${(err as Error).message}`);
    }
  }

  #adopt(l: Deno.Listener): void {
    const local = l.addr.transport === "tcp" ? l.addr.hostname : "";
    this.#listeners.set(local, { listener: l, done: this.#accept(l) });
  }

  /** Hands each connection to the peer it comes from; anyone else, or a second session, is refused. */
  async #accept(listener: Deno.Listener): Promise<void> {
    try {
      for await (const conn of listener) {
        const remote = conn.remoteAddr.transport === "tcp" ? conn.remoteAddr.hostname : "";
        const p = this.#peers.get(remote);
        if (!p || !p.peer.accept(conn)) {
          this.deps.count("msdp_refused");
          conn.close();
        }
      }
    } catch {
      // the listener was closed
    }
  }
}

function peerKey(config: Config, p: { address: string; local: string }): string {
  return JSON.stringify({ ...config.msdp, peers: [p] });
}
