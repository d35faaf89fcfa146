/**
 * A PIM-SM router's state on its enabled interfaces (RFC 7761), pure: the
 * time is passed in, hellos to send are collected in an outbox.
 *
 * Implemented: Hellos (4.3: holdtime, DR priority, generation id; a
 * triggered Hello to a new or restarted neighbour), neighbour expiry, DR
 * election (4.3.2), and the upstream side of Join/Prune (4.5 downstream
 * state machines, simplified): a (*,G) or (S,G) Join addressed to this
 * router from a neighbour creates a learned route for its holdtime; a
 * Prune removes it, after the J/P override interval when other neighbours
 * on the link might override it with a Join (4.5.3 Prune-Pending).
 * (S,G,rpt) Prunes (4.5.3) take S off a (*,G) route: a downstream router
 * on the source tree for S does not get S again down the (*,G) one; a
 * (*,G) Join without them in the same message gives S back.
 * Not implemented: sending Joins upstream, Asserts (4.6), the RP's side of
 * Registers, BSR. Those messages are counted as ignored.
 */
import type { ProtocolCounterName } from "../stats/registry.ts";
import type { Hello, JoinPrune } from "./pim.ts";
import { compareAddress } from "./ip_packet.ts";

export interface PimOptions {
  helloIntervalMs: number;
  /** Holdtime advertised in Hellos, seconds. */
  holdtimeS: number;
  drPriority: number;
  /** Learned routes (interface, source or *, group) at most. */
  maxRoutes: number;
  /** Static RPs: (*,G) joins are accepted for the RP of G, or for this router's own address. */
  rps: { address: string; prefix: string }[];
  generationId: number;
  /** J/P override interval: how long a Prune waits for an overriding Join when the link has other neighbours. */
  overrideMs: number;
}

export type PimCounter = Extract<
  ProtocolCounterName,
  "pim_joins" | "pim_prunes" | "pim_routes_refused" | "pim_ignored"
>;

export interface NeighborState {
  interface: string;
  address: string;
  dr_priority: number | null;
  generation_id: number | null;
  holdtime_s: number;
  expires_ms: number;
  up_ms: number;
}

export interface LearnedRoute {
  interface: string;
  /** "*" for a (*,G) join. */
  source: string;
  group: string;
  /** The downstream router that joined. */
  neighbor: string;
  expires_ms: number | null;
  /** A prune was heard; the route goes when this reaches 0 unless a join overrides it. */
  prune_pending: boolean;
  /** (*,G) routes: sources taken off it by (S,G,rpt) Prunes. */
  rpt_pruned: string[];
}

interface Neighbor {
  holdtimeS: number;
  expires: number;
  drPriority?: number;
  generationId?: number;
  since: number;
}

interface Route {
  ifname: string;
  source: string;
  group: string;
  neighbor: string;
  expires: number;
  prunePending: boolean;
  /** (*,G) only: source -> until when it is pruned off this route. */
  rptPruned: Map<string, number>;
}

interface PimIf {
  address: string;
  neighbors: Map<string, Neighbor>;
  nextHello: number;
}

/** Whether an IPv4 address lies in a prefix "a.b.c.d/len". */
export function inPrefix(address: string, prefix: string): boolean {
  const [base, lenText] = prefix.split("/");
  const len = lenText === undefined ? 32 : Number(lenText);
  const word = (t: string) => t.split(".").reduce((a, p) => ((a << 8) | Number(p)) >>> 0, 0);
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  return ((word(address) & mask) >>> 0) === ((word(base) & mask) >>> 0);
}

export class PimRouter {
  #ifs = new Map<string, PimIf>();
  #routes = new Map<string, Route>();
  outbox: { ifname: string; holdtimeS: number }[] = [];

  constructor(
    public options: PimOptions,
    private count: (c: PimCounter, n?: number) => void = () => {},
  ) {}

  /**
   * New options in force, neighbours and routes kept (the generation id too:
   * neighbours see no restart). A Hello goes out at once on every interface
   * so a new DR priority or holdtime is known without waiting a period.
   */
  reconfigure(options: PimOptions): void {
    this.options = { ...options, generationId: this.options.generationId };
    for (const [name, pif] of this.#ifs) {
      this.outbox.push({ ifname: name, holdtimeS: this.options.holdtimeS });
      pif.nextHello = 0;
    }
  }

  /** Enables PIM on exactly these interfaces (a removed one says goodbye: holdtime 0). */
  setInterfaces(list: { name: string; address: string }[], now: number): boolean {
    const wanted = new Map(list.map((i) => [i.name, i.address]));
    let changed = false;
    for (const [name, pif] of this.#ifs) {
      if (wanted.get(name) === pif.address) continue;
      this.outbox.push({ ifname: name, holdtimeS: 0 });
      this.#ifs.delete(name);
      changed = this.#dropRoutes((r) => r.ifname === name) || changed;
    }
    for (const [name, address] of wanted) {
      if (this.#ifs.has(name)) continue;
      this.#ifs.set(name, { address, neighbors: new Map(), nextHello: now });
    }
    return changed;
  }

  /** Says goodbye on every interface (Hello with holdtime 0). */
  shutdown(): void {
    for (const name of this.#ifs.keys()) this.outbox.push({ ifname: name, holdtimeS: 0 });
  }

  address(ifname: string): string | undefined {
    return this.#ifs.get(ifname)?.address;
  }

  receiveHello(ifname: string, from: string, hello: Hello, now: number): boolean {
    const pif = this.#ifs.get(ifname);
    if (!pif || from === pif.address) return false;
    const known = pif.neighbors.get(from);
    if (hello.holdtimeS === 0) {
      pif.neighbors.delete(from);
      return this.#dropRoutes((r) => r.ifname === ifname && r.neighbor === from);
    }
    const restarted = known !== undefined && known.generationId !== hello.generationId;
    pif.neighbors.set(from, {
      holdtimeS: hello.holdtimeS,
      expires: hello.holdtimeS === 0xffff ? Infinity : now + hello.holdtimeS * 1000,
      drPriority: hello.drPriority,
      generationId: hello.generationId,
      since: known && !restarted ? known.since : now,
    });
    let changed = false;
    if (restarted) changed = this.#dropRoutes((r) => r.ifname === ifname && r.neighbor === from);
    // A new or restarted neighbour learns of us at once (triggered Hello, 4.3.1).
    if (!known || restarted) this.outbox.push({ ifname, holdtimeS: this.options.holdtimeS });
    return changed;
  }

  receiveJoinPrune(ifname: string, from: string, jp: JoinPrune, now: number): boolean {
    const pif = this.#ifs.get(ifname);
    if (!pif) return false;
    if (jp.upstream !== pif.address || !pif.neighbors.has(from)) {
      // Not addressed to this router (another upstream's), or from a router that sent no Hello.
      this.count("pim_ignored");
      return false;
    }
    let changed = false;
    const until = jp.holdtimeS === 0xffff ? Infinity : now + jp.holdtimeS * 1000;
    for (const g of jp.groups) {
      if (g.maskLength !== 32) {
        this.count("pim_ignored");
        continue;
      }
      const rptPrunes = g.prunes.filter((s) => s.rpt && !s.wildcard).map((s) => s.address);
      let starJoined = false;
      for (const s of g.joins) {
        const source = this.#entrySource(ifname, g.group, s);
        if (source === null) continue;
        if (source === "rpt") {
          changed = this.#rptPrune(ifname, s.address, g.group, null) || changed; // (S,G,rpt) Join: S back on the tree
          continue;
        }
        changed = this.#join(ifname, source, g.group, from, until) || changed;
        if (source === "*") starJoined = true;
      }
      if (starJoined) {
        // A (*,G) Join resets the (S,G,rpt) Prunes it does not carry (4.5.3 PruneTmp).
        const r = this.#routes.get(`${ifname}|*|${g.group}`);
        if (r) {
          for (const src of [...r.rptPruned.keys()]) {
            if (rptPrunes.includes(src)) continue;
            r.rptPruned.delete(src);
            changed = true;
          }
        }
      }
      for (const s of g.prunes) {
        const source = this.#entrySource(ifname, g.group, s);
        if (source === null) continue;
        if (source === "rpt") {
          changed = this.#rptPrune(ifname, s.address, g.group, until) || changed;
        } else changed = this.#prune(pif, ifname, source, g.group, now) || changed;
      }
    }
    return changed;
  }

  /** Hellos due go into the outbox; neighbours and routes past their time go. Returns whether routes changed. */
  tick(now: number): boolean {
    let changed = false;
    for (const [name, pif] of this.#ifs) {
      if (now >= pif.nextHello) {
        this.outbox.push({ ifname: name, holdtimeS: this.options.holdtimeS });
        pif.nextHello = now + this.options.helloIntervalMs;
      }
      for (const [addr, n] of pif.neighbors) {
        if (n.expires > now) continue;
        pif.neighbors.delete(addr);
        changed = this.#dropRoutes((r) => r.ifname === name && r.neighbor === addr) || changed;
      }
    }
    for (const r of this.#routes.values()) {
      for (const [src, until] of r.rptPruned) {
        if (until > now) continue;
        r.rptPruned.delete(src);
        changed = true;
      }
    }
    return this.#dropRoutes((r) => r.expires <= now) || changed;
  }

  nextDue(now: number): number {
    let due = Infinity;
    for (const pif of this.#ifs.values()) {
      due = Math.min(due, pif.nextHello);
      for (const n of pif.neighbors.values()) due = Math.min(due, n.expires);
    }
    for (const r of this.#routes.values()) {
      due = Math.min(due, r.expires);
      for (const until of r.rptPruned.values()) due = Math.min(due, until);
    }
    return Math.max(now, due);
  }

  /** The DR of a link (4.3.2): highest priority when every router sends one, else highest address. */
  dr(ifname: string): string | null {
    const pif = this.#ifs.get(ifname);
    if (!pif) return null;
    const all = [
      { address: pif.address, priority: this.options.drPriority as number | undefined },
      ...[...pif.neighbors].map(([address, n]) => ({ address, priority: n.drPriority })),
    ];
    const usePriority = all.every((r) => r.priority !== undefined);
    let best = all[0];
    for (const r of all.slice(1)) {
      const byPriority = usePriority ? r.priority! - best.priority! : 0;
      if (byPriority > 0 || (byPriority === 0 && compareAddress(r.address, best.address) > 0)) {
        best = r;
      }
    }
    return best.address;
  }

  interfaces(): { interface: string; address: string; dr: string | null; neighbors: number }[] {
    return [...this.#ifs].map(([name, pif]) => ({
      interface: name,
      address: pif.address,
      dr: this.dr(name),
      neighbors: pif.neighbors.size,
    }));
  }

  neighbors(now: number): NeighborState[] {
    const out: NeighborState[] = [];
    for (const [name, pif] of this.#ifs) {
      for (const [address, n] of pif.neighbors) {
        out.push({
          interface: name,
          address,
          dr_priority: n.drPriority ?? null,
          generation_id: n.generationId ?? null,
          holdtime_s: n.holdtimeS,
          expires_ms: n.expires === Infinity ? -1 : Math.max(0, n.expires - now),
          up_ms: now - n.since,
        });
      }
    }
    return out;
  }

  routes(now: number): LearnedRoute[] {
    return [...this.#routes.values()].map((r) => ({
      interface: r.ifname,
      source: r.source,
      group: r.group,
      neighbor: r.neighbor,
      expires_ms: r.expires === Infinity ? null : Math.max(0, r.expires - now),
      prune_pending: r.prunePending,
      rpt_pruned: [...r.rptPruned.keys()].sort(),
    }));
  }

  /** The RP of a group from the static mapping (longest prefix), or null. */
  rpFor(group: string): string | null {
    let best: { address: string; len: number } | null = null;
    for (const rp of this.options.rps) {
      const len = Number(rp.prefix.split("/")[1] ?? 32);
      if (inPrefix(group, rp.prefix) && (best === null || len > best.len)) {
        best = { address: rp.address, len };
      }
    }
    return best?.address ?? null;
  }

  /**
   * "*" for a (*,G) entry this router is RP for, "rpt" for an (S,G,rpt)
   * entry, the source for (S,G), null for what it does not handle.
   */
  #entrySource(
    ifname: string,
    group: string,
    s: { address: string; wildcard: boolean; rpt: boolean },
  ): string | null {
    if (s.wildcard) {
      const mine = s.address === this.#ifs.get(ifname)?.address || s.address === this.rpFor(group);
      if (mine) return "*";
      this.count("pim_ignored");
      return null;
    }
    return s.rpt ? "rpt" : s.address;
  }

  /** Takes `source` off the (*,G) route on ifname until `until` (null: puts it back). */
  #rptPrune(ifname: string, source: string, group: string, until: number | null): boolean {
    const r = this.#routes.get(`${ifname}|*|${group}`);
    if (!r) {
      this.count("pim_ignored"); // no (*,G) route here to take it off or put it back on
      return false;
    }
    if (until === null) return r.rptPruned.delete(source);
    const had = r.rptPruned.has(source);
    r.rptPruned.set(source, until);
    this.count("pim_prunes");
    return !had;
  }

  #join(ifname: string, source: string, group: string, neighbor: string, until: number): boolean {
    const key = `${ifname}|${source}|${group}`;
    const r = this.#routes.get(key);
    if (r) {
      r.expires = until;
      r.prunePending = false;
      r.neighbor = neighbor;
      this.count("pim_joins");
      return false;
    }
    if (this.#routes.size >= this.options.maxRoutes) {
      this.count("pim_routes_refused");
      return false;
    }
    this.#routes.set(key, {
      ifname,
      source,
      group,
      neighbor,
      expires: until,
      prunePending: false,
      rptPruned: new Map(),
    });
    this.count("pim_joins");
    return true;
  }

  #prune(pif: PimIf, ifname: string, source: string, group: string, now: number): boolean {
    const key = `${ifname}|${source}|${group}`;
    const r = this.#routes.get(key);
    this.count("pim_prunes");
    if (!r) return false;
    if (pif.neighbors.size > 1) {
      // Another router on the link may still want it: wait for its overriding Join.
      r.prunePending = true;
      r.expires = Math.min(r.expires, now + this.options.overrideMs);
      return false;
    }
    this.#routes.delete(key);
    return true;
  }

  #dropRoutes(which: (r: Route) => boolean): boolean {
    let changed = false;
    for (const [key, r] of this.#routes) {
      if (!which(r)) continue;
      this.#routes.delete(key);
      changed = true;
    }
    return changed;
  }
}
