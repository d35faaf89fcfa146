/**
 * The TCP side of one MSDP peering: it carries out what the pure peering
 * (src/protocols/msdp_peer.ts) asks for, connecting to the peer's port 639,
 * writing a session's messages in order, closing it, and hands back what
 * happens on the wire (a connection up or failed, bytes read, the end of
 * a session), with the time. One timer per peering runs the peering's
 * timers (connect retry, hold, keepalive, SA advertisement). msdp_speaker.ts
 * holds one per configured peer and hands it the connections its listeners
 * accept from that peer.
 */
import { MSDP_PORT } from "../protocols/msdp.ts";
import {
  MsdpPeer,
  type MsdpPeerDeps,
  type MsdpPeerOptions,
  type MsdpState,
  type SaCacheEntry,
} from "../protocols/msdp_peer.ts";

export interface MsdpConnectionOptions extends MsdpPeerOptions {
  /** The peer's TCP port (default 639; tests use another). */
  port?: number;
}

export class MsdpConnection {
  readonly peer: MsdpPeer;
  /** The connection of each session up (one at most). */
  #conns = new Map<number, Deno.Conn>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #writing: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(readonly options: MsdpConnectionOptions, deps: MsdpPeerDeps) {
    this.peer = new MsdpPeer(options, deps);
  }

  /** This side connects (RFC 3618 5: the peer with the lower address connects). */
  get active(): boolean {
    return this.peer.active;
  }

  get state(): MsdpState {
    return this.peer.state;
  }

  start(): void {
    this.peer.start(Date.now());
    this.#flush();
  }

  /** A connection from the peer address arrived at the listener: taken unless a session is up. */
  accept(conn: Deno.Conn): boolean {
    const session = this.peer.accepted(Date.now());
    if (session === null) return false;
    this.#adopt(session, conn);
    this.#flush();
    return true;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.peer.stop(Date.now());
    this.#flush();
    await this.#writing.catch(() => {});
  }

  /** Sends the current SAs now (e.g. when the relayed sources changed). */
  advertise(): void {
    this.peer.advertise();
    this.#flush();
  }

  expire(now: number): void {
    this.peer.expire(now);
  }

  cache(now: number): SaCacheEntry[] {
    return this.peer.cache(now);
  }

  info(now: number): Record<string, unknown> {
    return this.peer.info(now);
  }

  /** Carries out what the peering asked for, then sets the timer for its next step. */
  #flush(): void {
    for (const a of this.peer.outbox.splice(0)) {
      if (a.type === "connect") this.#connect(a.attempt);
      else if (a.type === "send") this.#send(a.session, a.bytes);
      else this.#close(a.session);
    }
    clearTimeout(this.#timer);
    if (this.#stopped) return;
    const now = Date.now();
    const due = this.peer.nextDue(now);
    if (due === Infinity) return;
    this.#timer = setTimeout(() => {
      this.peer.tick(Date.now());
      this.#flush();
    }, Math.max(1, due - now));
  }

  #connect(attempt: number): void {
    Deno.connect({ hostname: this.options.peer, port: this.options.port ?? MSDP_PORT }).then(
      (conn) => {
        const session = this.peer.connected(attempt, Date.now());
        if (session === null) conn.close();
        else this.#adopt(session, conn);
        this.#flush();
      },
      (err) => {
        this.peer.connectFailed(attempt, (err as Error).message, Date.now());
        this.#flush();
      },
    );
  }

  #adopt(session: number, conn: Deno.Conn): void {
    this.#conns.set(session, conn);
    this.#read(session, conn);
  }

  /** Hands what a session's connection reads to the peering, until the session ends. */
  async #read(session: number, conn: Deno.Conn): Promise<void> {
    const buf = new Uint8Array(16384);
    try {
      while (this.#conns.get(session) === conn) {
        const n = await conn.read(buf);
        if (n === null) {
          this.peer.closed(session, "peer closed the connection", Date.now());
          return this.#flush();
        }
        this.peer.received(session, buf.subarray(0, n), Date.now());
        this.#flush();
      }
    } catch (err) {
      this.peer.closed(session, (err as Error).message, Date.now());
      this.#flush();
    }
  }

  /** Writes in order, a session's messages after one another's. */
  #send(session: number, bytes: Uint8Array): void {
    const conn = this.#conns.get(session);
    if (!conn) return;
    this.#writing = this.#writing.then(async () => {
      for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
    }).catch((err) => {
      this.peer.closed(session, `write failed: ${(err as Error).message}`, Date.now());
      this.#flush();
    });
  }

  #close(session: number): void {
    const conn = this.#conns.get(session);
    if (!conn) return;
    this.#conns.delete(session);
    try {
      conn.close();
    } catch { /* already closed */ }
  }
}
