/**
 * An IGMP router on one interface (RFC 2236 / RFC 3376 router side; MLD,
 * RFC 2710 / RFC 3810, is the same machine over IPv6 addresses), pure:
 * the time is passed in, queries to send are collected in an outbox.
 *
 * - Querier election: the lowest address queries; the others go quiet for
 *   the other-querier-present interval after each query they hear.
 * - Membership from reports: a group is present while a v1/v2 report or a
 *   v3 EXCLUDE record keeps its group timer running, or while some source
 *   of a v3 INCLUDE record does (per-source filtering is not applied to
 *   forwarding: a present group is forwarded whole).
 * - Leaves (v2 leave, v3 TO_IN / BLOCK) lower the timers to the last member
 *   query time, and a querier sends its group-specific queries.
 */
import { compareAddress } from "./ip_packet.ts";
import { isMulticast, parseIp } from "../net/address.ts";
import { type IgmpMessage, RecordType } from "./igmp.ts";

export interface IgmpTimers {
  /** Version of the queries sent: IGMP 2 or 3, MLD 1 or 2. */
  version: number;
  queryIntervalMs: number;
  queryResponseMs: number;
  lastMemberIntervalMs: number;
  lastMemberCount: number;
  robustness: number;
  /** Groups tracked at most (a report for one more is refused and counted): a host cannot grow the table without bound. */
  maxGroups: number;
}

export const DEFAULT_IGMP_TIMERS: IgmpTimers = {
  version: 3,
  queryIntervalMs: 125_000,
  queryResponseMs: 10_000,
  lastMemberIntervalMs: 1_000,
  lastMemberCount: 2,
  robustness: 2,
  maxGroups: 1024,
};

/** A query the interface wants sent: general ("0.0.0.0", for MLD "::") or group-specific. */
export interface QueryOut {
  group: string;
  maxResponseMs: number;
}

/** A group with listeners on the link, as the API shows it. */
export interface GroupState {
  group: string;
  /** "exclude": every source wanted; "include": only `sources`. */
  mode: "exclude" | "include";
  sources: string[];
  /** Milliseconds until the membership times out unless refreshed. */
  expires_ms: number;
  last_reporter: string;
  /** Oldest report version heard for the group (1, 2 or 3). */
  version: number;
}

interface Group {
  excludeUntil: number;
  sources: Map<string, number>;
  reporter: string;
  version: number;
}

/**
 * Groups a router keeps state for: IPv4 224.0.0.0/4 but 224.0.0.0/24 (link-local
 * control traffic); IPv6 multicast of a scope wider than link-local (ff0X/ff3X, X >= 3).
 */
function isRoutable(group: string): boolean {
  const a = parseIp(group);
  if (a === null || !isMulticast(a)) return false;
  const b = a.bytes;
  if (a.family === 4) return !(b[0] === 224 && b[1] === 0 && b[2] === 0);
  return (b[1] & 0x0f) >= 3;
}

export class IgmpRouter {
  #groups = new Map<string, Group>();
  #otherQuerier: string | null = null;
  #otherUntil = 0;
  #nextGeneral: number;
  #startupLeft: number;
  #pending = new Map<string, { left: number; next: number }>();
  outbox: QueryOut[] = [];
  /** Reports refused because maxGroups groups were tracked. */
  refused = 0;
  /** The unspecified address: a general query's group ("0.0.0.0"; "::" for MLD). */
  readonly general: string;

  /** Timers may be replaced while running (a configuration change): groups keep their deadlines. */
  constructor(readonly address: string, public timers: IgmpTimers, now: number) {
    this.general = address.includes(":") ? "::" : "0.0.0.0";
    this.#nextGeneral = now;
    this.#startupLeft = timers.robustness;
  }

  get gmi(): number {
    return this.timers.robustness * this.timers.queryIntervalMs + this.timers.queryResponseMs;
  }

  get lmqt(): number {
    return this.timers.lastMemberCount * this.timers.lastMemberIntervalMs;
  }

  isQuerier(now: number): boolean {
    return this.#otherQuerier === null || now >= this.#otherUntil;
  }

  querier(now: number): string {
    return this.isQuerier(now) ? this.address : this.#otherQuerier!;
  }

  /** Whether some listener on the link wants `group` now. */
  present(group: string, now: number): boolean {
    const g = this.#groups.get(group);
    if (!g) return false;
    if (g.excludeUntil > now) return true;
    for (const until of g.sources.values()) if (until > now) return true;
    return false;
  }

  /** Groups present now, sorted. */
  presentGroups(now: number): string[] {
    return [...this.#groups.keys()].filter((g) => this.present(g, now)).sort();
  }

  /** Takes one received message; returns whether the set of present groups may have changed. */
  receive(msg: IgmpMessage, from: string, now: number): boolean {
    switch (msg.kind) {
      case "query":
        return this.#heardQuery(msg, from, now);
      case "report":
        return this.#exclude(msg.group, from, msg.version, now);
      case "leave":
        return this.#lower(msg.group, now, true);
      case "report3": {
        let changed = false;
        for (const r of msg.records) {
          if (!isRoutable(r.group)) continue;
          if (r.type === RecordType.MODE_IS_EXCLUDE || r.type === RecordType.CHANGE_TO_EXCLUDE) {
            changed = this.#exclude(r.group, from, 3, now) || changed;
          } else if (
            r.type === RecordType.MODE_IS_INCLUDE || r.type === RecordType.ALLOW_NEW_SOURCES
          ) {
            changed = this.#include(r.group, r.sources, from, now) || changed;
          } else if (r.type === RecordType.CHANGE_TO_INCLUDE) {
            // TO_IN(S): the sources in S stay; the rest of the group (EXCLUDE mode) is asked about.
            changed = this.#include(r.group, r.sources, from, now) || changed;
            this.#lower(r.group, now, false);
          } else if (r.type === RecordType.BLOCK_OLD_SOURCES) {
            const g = this.#groups.get(r.group);
            if (!g) continue;
            for (const s of r.sources) {
              const until = g.sources.get(s);
              if (until !== undefined) g.sources.set(s, Math.min(until, now + this.lmqt));
            }
            this.#askGroup(r.group, now);
          }
        }
        return changed;
      }
    }
  }

  /** Advances time: queries due go into the outbox; returns whether present groups changed. */
  tick(now: number): boolean {
    if (this.#otherQuerier !== null && now >= this.#otherUntil) {
      this.#otherQuerier = null; // the other querier went quiet: take over at once
      this.#nextGeneral = now;
    }
    if (this.isQuerier(now) && now >= this.#nextGeneral) {
      this.outbox.push({ group: this.general, maxResponseMs: this.timers.queryResponseMs });
      const startup = this.#startupLeft > 0;
      if (startup) this.#startupLeft--;
      this.#nextGeneral = now +
        (startup ? this.timers.queryIntervalMs / 4 : this.timers.queryIntervalMs);
    }
    for (const [group, p] of this.#pending) {
      if (now < p.next) continue;
      if (this.isQuerier(now)) {
        this.outbox.push({ group, maxResponseMs: this.timers.lastMemberIntervalMs });
      }
      if (--p.left <= 0) this.#pending.delete(group);
      else p.next = now + this.timers.lastMemberIntervalMs;
    }
    let changed = false;
    for (const [group, g] of this.#groups) {
      for (const [s, until] of g.sources) if (until <= now) g.sources.delete(s);
      if (g.excludeUntil <= now && g.sources.size === 0) {
        this.#groups.delete(group);
        changed = true;
      }
    }
    return changed;
  }

  /** When tick() next has something to do (for the caller's timer). */
  nextDue(now: number): number {
    let due = this.isQuerier(now) ? this.#nextGeneral : this.#otherUntil;
    for (const p of this.#pending.values()) due = Math.min(due, p.next);
    for (const g of this.#groups.values()) {
      if (g.excludeUntil > now) due = Math.min(due, g.excludeUntil);
      for (const until of g.sources.values()) due = Math.min(due, until);
    }
    return Math.max(now, due);
  }

  groups(now: number): GroupState[] {
    return [...this.#groups].filter(([group]) => this.present(group, now)).map(([group, g]) => {
      const live = [...g.sources].filter(([, until]) => until > now);
      const exclude = g.excludeUntil > now;
      const until = Math.max(exclude ? g.excludeUntil : 0, ...live.map(([, u]) => u));
      return {
        group,
        mode: exclude ? "exclude" as const : "include" as const,
        sources: exclude ? [] : live.map(([s]) => s).sort(),
        expires_ms: Math.max(0, until - now),
        last_reporter: g.reporter,
        version: g.version,
      };
    }).sort((a, b) => (a.group < b.group ? -1 : 1));
  }

  #group(group: string, from: string, version: number): Group | null {
    let g = this.#groups.get(group);
    if (!g) {
      if (this.#groups.size >= this.timers.maxGroups) {
        this.refused++;
        return null;
      }
      g = { excludeUntil: 0, sources: new Map(), reporter: from, version };
      this.#groups.set(group, g);
    }
    g.reporter = from;
    g.version = Math.min(g.version, version);
    return g;
  }

  #exclude(group: string, from: string, version: number, now: number): boolean {
    if (!isRoutable(group)) return false;
    const was = this.present(group, now);
    const g = this.#group(group, from, version);
    if (!g) return false;
    g.excludeUntil = now + this.gmi;
    this.#pending.delete(group);
    return !was;
  }

  #include(group: string, sources: string[], from: string, now: number): boolean {
    if (sources.length === 0) return false;
    const was = this.present(group, now);
    const g = this.#group(group, from, 3);
    if (!g) return false;
    // Sources per group are bounded by what one report can carry (a v3 record's 16-bit count, within one packet).
    for (const s of sources) g.sources.set(s, now + this.gmi);
    return !was;
  }

  /** A listener may have left: the group times out after the last member query time unless someone answers. */
  #lower(group: string, now: number, v2Leave: boolean): boolean {
    const g = this.#groups.get(group);
    if (!g) return false;
    // A non-querier ignores leaves (RFC 2236 6): the querier's group-specific query lowers the timer.
    if (v2Leave && !this.isQuerier(now)) return false;
    if (g.excludeUntil > now) g.excludeUntil = Math.min(g.excludeUntil, now + this.lmqt);
    this.#askGroup(group, now);
    return false;
  }

  #askGroup(group: string, now: number): void {
    if (!this.isQuerier(now)) return;
    this.#pending.set(group, { left: this.timers.lastMemberCount, next: now });
  }

  #heardQuery(msg: Extract<IgmpMessage, { kind: "query" }>, from: string, now: number): boolean {
    if (
      from === this.general || from.includes(":") !== this.address.includes(":") ||
      compareAddress(from, this.address) >= 0
    ) return false;
    // A lower address queries: it is the querier (RFC 3376 6.6.2).
    this.#otherQuerier = from;
    const qi = msg.intervalS > 0 ? msg.intervalS * 1000 : this.timers.queryIntervalMs;
    const rv = msg.robustness > 0 ? msg.robustness : this.timers.robustness;
    this.#otherUntil = now + rv * qi + this.timers.queryResponseMs / 2;
    if (msg.group !== this.general) {
      const g = this.#groups.get(msg.group);
      const lowered = now + this.timers.lastMemberCount * msg.maxResponseMs;
      if (g && g.excludeUntil > lowered) g.excludeUntil = lowered;
    }
    return false;
  }
}
