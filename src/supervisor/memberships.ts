/**
 * The IGMP/MLD memberships of the input interfaces, spread over as many
 * helper sockets as the kernel needs: one socket holds at most
 * net.ipv4.igmp_max_memberships IPv4 groups (default 20), and
 * net.core.optmem_max bounds both families. join() is atomic and returns
 * the function that undoes it, so a configuration change that fails later
 * can put the memberships back as they were.
 */
import { NativeError } from "../../ffi/errno.ts";
import type { NativeAddress } from "../../ffi/membership.ts";
import { sysctlNumber } from "../../ffi/iface.ts";
import { type Family, ip } from "../net/address.ts";
import type { MembershipKey } from "./plan.ts";

/** What Memberships needs of a helper socket (ffi/membership.ts MembershipSocket has it). */
export interface MembershipSocketLike {
  join(ifindex: number, group: NativeAddress, source: NativeAddress | null, label: string): void;
  leave(ifindex: number, group: NativeAddress, source: NativeAddress | null, label: string): void;
  close(): void;
}

export interface MembershipsOptions {
  /** Opens a helper socket of one family (MembershipSocket.open in production). */
  open: (family: Family) => MembershipSocketLike;
  /** Memberships to put on one socket before opening the next; defaultMembershipLimit by default. */
  limit?: (family: Family) => number;
  logger?: { warn(msg: string, fields?: Record<string, unknown>): void };
}

/** What is held on one (interface, family), for the API's introspection. */
export interface MembershipPoolView {
  interface: string;
  family: Family;
  ifindex: number;
  sockets: number;
  /** "group" for any-source, "(source, group)" for source-specific memberships. */
  memberships: string[];
}

/** One helper socket and what it holds. */
interface HeldSocket {
  socket: MembershipSocketLike;
  /** How many memberships it may hold: the limit, or fewer once the kernel refused one. */
  capacity: number;
  /** membershipKey() -> membership. */
  joined: Map<string, MembershipKey>;
  closed: boolean;
}

/** The sockets of one (interface, family), in the order they were opened. */
interface Pool {
  name: string;
  family: Family;
  ifindex: number;
  sockets: HeldSocket[];
  /** membershipKey() -> the socket holding it: what is held, without a walk over the sockets. */
  held: Map<string, HeldSocket>;
  /** Group -> how many source-specific memberships of it are held. */
  ssm: Map<string, number>;
}

type Undo = () => void;

const ENOMEM = 12;
const ENOBUFS = 105;

/**
 * Memberships per socket: net.ipv4.igmp_max_memberships for IPv4 (20 when
 * unreadable); 64 for IPv6, which has no such count (optmem_max bounds it).
 */
export function defaultMembershipLimit(family: Family): number {
  if (family === 6) return 64;
  try {
    const n = sysctlNumber("net.ipv4.igmp_max_memberships");
    return n !== null && Number.isInteger(n) && n > 0 ? n : 20;
  } catch {
    return 20; // no native library (unit tests)
  }
}

function membershipKey(m: MembershipKey): string {
  return `${m.group}|${m.source ?? "*"}`;
}

function membershipLabel(m: MembershipKey): string {
  return m.source === null ? m.group : `(${m.source}, ${m.group})`;
}

/** "group|any" or "group|ssm": one socket cannot hold both modes of a group. */
function modeKey(m: MembershipKey): string {
  return `${m.group}|${m.source === null ? "any" : "ssm"}`;
}

/**
 * Whether the kernel refused a join for lack of room on the socket: ENOBUFS
 * (igmp_max_memberships, optmem_max, igmp_max_msf, mld_max_msf); IPv6
 * reports optmem_max running out on a join as ENOMEM.
 */
function isFull(err: unknown, family: Family): boolean {
  return err instanceof NativeError &&
    (err.errno === ENOBUFS || (family === 6 && err.errno === ENOMEM));
}

/** The error when even an empty socket cannot take m: names the group, the interface, the sysctls. */
function limitError(name: string, m: MembershipKey, cause: unknown): Error {
  const sysctls = m.family === 4
    ? ["net.ipv4.igmp_max_memberships", "net.core.optmem_max"]
    : ["net.core.optmem_max", "net.ipv6.mld_max_msf"];
  if (m.family === 4 && m.source !== null) sysctls.push("net.ipv4.igmp_max_msf");
  const what = `Cannot join group ${membershipLabel(m)} on interface "${name}"`;
  const why = "the kernel refuses it even on a new membership socket";
  return new Error(`${what}: ${why}; raise ${sysctls.join(", ")}`, { cause });
}

function byInterfaceThenFamily(a: MembershipPoolView, b: MembershipPoolView): number {
  return a.interface < b.interface ? -1 : a.interface > b.interface ? 1 : a.family - b.family;
}

function runBackwards(undo: Undo[]): void {
  for (let i = undo.length - 1; i >= 0; i--) undo[i]();
}

/** The memberships held on every input interface, over as many sockets per (interface, family) as needed. */
export class Memberships {
  #open: (family: Family) => MembershipSocketLike;
  #limit: (family: Family) => number;
  #logger: MembershipsOptions["logger"];
  /** By `${interface}|${family}`. */
  #pools = new Map<string, Pool>();

  constructor(options: MembershipsOptions) {
    this.#open = options.open;
    this.#limit = options.limit ?? defaultMembershipLimit;
    this.#logger = options.logger;
  }

  /**
   * Joins every wanted membership not yet held on the interfaces present in
   * `facts` (absent ones wait). Atomic: when it throws, what it joined is
   * left and the sockets it opened are closed. Returns rollback(), which
   * undoes exactly this call. Memberships of a re-created interface (old
   * ifindex) are dropped for good: neither a failure nor rollback() brings
   * them back, the index they were on is gone.
   */
  join(wanted: Map<string, MembershipKey[]>, facts: Map<string, { ifindex: number }>): () => void {
    const undo: Undo[] = [];
    try {
      for (const [name, list] of wanted) {
        const f = facts.get(name);
        if (!f) continue; // rules wait for the interface
        for (const family of [4, 6] as const) {
          let pool: Pool | null = null;
          for (const m of list) {
            if (m.family !== family) continue;
            pool ??= this.#poolFor(name, family, f.ifindex);
            // One socket cannot hold a group in both modes: the other mode's are left first.
            const otherMode = m.source === null
              ? (pool.ssm.get(m.group) ?? 0) > 0
              : pool.held.has(`${m.group}|*`);
            if (otherMode) this.#leaveOtherMode(pool, m, undo);
            const key = membershipKey(m);
            if (!pool.held.has(key)) this.#joinOne(pool, key, m, undo);
          }
        }
      }
    } catch (err) {
      runBackwards(undo);
      throw err;
    } finally {
      for (const pool of [...this.#pools.values()]) this.#forgetIfEmpty(pool);
    }
    let done = false;
    return () => {
      if (!done) runBackwards(undo);
      done = true;
    };
  }

  /** Leaves every held membership not in `wanted` (a failed leave is logged); closes sockets left empty. */
  leaveUnwanted(wanted: Map<string, MembershipKey[]>): void {
    for (const pool of [...this.#pools.values()]) {
      const keep = new Set<string>();
      for (const m of wanted.get(pool.name) ?? []) {
        if (m.family === pool.family) keep.add(membershipKey(m));
      }
      for (const [key, s] of [...pool.held]) {
        if (!keep.has(key)) this.#leave(pool, s, key, s.joined.get(key)!);
      }
      for (const s of [...pool.sockets]) if (s.joined.size === 0) this.#drop(pool, s);
    }
  }

  /** Every (interface, family) held, sorted by interface then family. */
  snapshot(): MembershipPoolView[] {
    return [...this.#pools.values()]
      .map((p) => ({
        interface: p.name,
        family: p.family,
        ifindex: p.ifindex,
        sockets: p.sockets.length,
        memberships: p.sockets.flatMap((s) => [...s.joined.values()].map(membershipLabel)),
      }))
      .sort(byInterfaceThenFamily);
  }

  /** The links where memberships are held (cheap: nothing per membership). */
  links(): { interface: string; family: Family; ifindex: number }[] {
    return [...this.#pools.values()].map((p) => ({
      interface: p.name,
      family: p.family,
      ifindex: p.ifindex,
    }));
  }

  /** How many memberships are held in all. */
  count(): number {
    let n = 0;
    for (const p of this.#pools.values()) for (const s of p.sockets) n += s.joined.size;
    return n;
  }

  /** Closes every socket: the kernel leaves every group. */
  closeAll(): void {
    for (const p of [...this.#pools.values()]) for (const s of [...p.sockets]) this.#drop(p, s);
  }

  /** The pool of (name, family) on ifindex; a re-created interface's sockets are closed first. */
  #poolFor(name: string, family: Family, ifindex: number): Pool {
    const poolKey = `${name}|${family}`;
    const held = this.#pools.get(poolKey);
    if (held && held.ifindex !== ifindex) {
      for (const s of [...held.sockets]) {
        this.#drop(held, s);
      }
    }
    const pool = this.#pools.get(poolKey) ??
      { name, family, ifindex, sockets: [], held: new Map(), ssm: new Map() };
    this.#pools.set(poolKey, pool);
    return pool;
  }

  /** Leaves the memberships of `wanted`'s group held in the other mode (any-source vs source-specific). */
  #leaveOtherMode(pool: Pool, wanted: MembershipKey, undo: Undo[]): void {
    const mode = modeKey(wanted);
    for (const s of pool.sockets) {
      for (const [key, m] of [...s.joined]) {
        if (m.group !== wanted.group || modeKey(m) === mode) continue;
        this.#leave(pool, s, key, m);
        undo.push(() => {
          if (s.closed || s.joined.has(key)) return;
          try {
            this.#change("join", pool, s, m);
            this.#hold(pool, s, key, m);
          } catch (err) {
            this.#logger?.warn("joining group again failed", {
              interface: pool.name,
              error: String(err),
            });
          }
        });
      }
    }
  }

  /** Records that s holds m (under key), in the socket and in the pool's index. */
  #hold(pool: Pool, s: HeldSocket, key: string, m: MembershipKey): void {
    s.joined.set(key, m);
    pool.held.set(key, s);
    if (m.source !== null) pool.ssm.set(m.group, (pool.ssm.get(m.group) ?? 0) + 1);
  }

  /** Forgets that s holds key. */
  #unhold(pool: Pool, s: HeldSocket, key: string): void {
    const m = s.joined.get(key);
    if (m === undefined) return;
    s.joined.delete(key);
    if (pool.held.get(key) === s) pool.held.delete(key);
    if (m.source !== null) {
      const n = (pool.ssm.get(m.group) ?? 1) - 1;
      if (n > 0) pool.ssm.set(m.group, n);
      else pool.ssm.delete(m.group);
    }
  }

  /** Joins on the first socket with room, else on a new one; learns a socket's real room from ENOBUFS. */
  #joinOne(pool: Pool, key: string, m: MembershipKey, undo: Undo[]): void {
    for (;;) {
      let s = pool.sockets.find((x) => x.joined.size < x.capacity);
      if (!s) {
        const opened: HeldSocket = {
          socket: this.#open(pool.family),
          capacity: Math.max(1, this.#limit(pool.family)),
          joined: new Map(),
          closed: false,
        };
        pool.sockets.push(opened);
        undo.push(() => this.#drop(pool, opened));
        s = opened;
      }
      try {
        this.#change("join", pool, s, m);
      } catch (err) {
        if (!isFull(err, pool.family)) throw err;
        if (s.joined.size === 0) throw limitError(pool.name, m, err);
        s.capacity = s.joined.size; // this socket is full: try the next one
        continue;
      }
      const held = s;
      this.#hold(pool, held, key, m);
      undo.push(() => {
        if (!held.closed && held.joined.get(key) === m) this.#leave(pool, held, key, m);
      });
      return;
    }
  }

  #change(op: "join" | "leave", pool: Pool, s: HeldSocket, m: MembershipKey): void {
    s.socket[op](
      pool.ifindex,
      ip(m.group),
      m.source === null ? null : ip(m.source),
      membershipLabel(m),
    );
  }

  /** Leaves m and forgets it, even when the kernel refuses (logged). */
  #leave(pool: Pool, s: HeldSocket, key: string, m: MembershipKey): void {
    try {
      this.#change("leave", pool, s, m);
    } catch (err) {
      this.#logger?.warn("leaving group failed", { interface: pool.name, error: String(err) });
    }
    this.#unhold(pool, s, key);
  }

  /** Closes a socket (the kernel leaves what it held) and forgets it; forgets its pool once empty. */
  #drop(pool: Pool, s: HeldSocket): void {
    if (s.closed) return;
    s.closed = true;
    s.socket.close();
    for (const key of [...s.joined.keys()]) this.#unhold(pool, s, key);
    pool.sockets.splice(pool.sockets.indexOf(s), 1);
    this.#forgetIfEmpty(pool);
  }

  #forgetIfEmpty(pool: Pool): void {
    const poolKey = `${pool.name}|${pool.family}`;
    if (pool.sockets.length === 0 && this.#pools.get(poolKey) === pool) this.#pools.delete(poolKey);
  }
}
