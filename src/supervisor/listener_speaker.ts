/**
 * mcr's querier for one listener protocol: IGMP over IPv4 or MLD over IPv6
 * (one class, parameterised by the family below; src/protocols/igmp_state.ts
 * is the one state machine of both). It holds a socket and an IgmpRouter per
 * interface of the igmp or mld section, hands received reports to the
 * router, sends the queries the router wants, and says which groups have
 * listeners. routing.ts composes it with the other speakers.
 */
import { linkLocalIpv6 } from "../../ffi/iface.ts";
import type { Config } from "../config/schema.ts";
import { formatIp } from "../net/address.ts";
import {
  ALL_SYSTEMS,
  buildQuery,
  IGMP_PROTOCOL,
  type IgmpMessage,
  parseIgmp,
} from "../protocols/igmp.ts";
import {
  DEFAULT_IGMP_TIMERS,
  IgmpRouter,
  type IgmpTimers,
  type QueryOut,
} from "../protocols/igmp_state.ts";
import {
  buildIpv4,
  buildIpv6Mld,
  type Parsed,
  parseIpv4,
  parseIpv6Icmp,
} from "../protocols/ip_packet.ts";
import { ALL_NODES, buildMldQuery, parseMld } from "../protocols/mld.ts";
import type { InterfaceFacts } from "./plan.ts";
import {
  guard,
  type Link,
  type LinkWanted,
  type ListenerLinkState,
  type ProtocolSocket,
  reusable,
  sendOn,
  type SpeakerChange,
  type SpeakerDeps,
  usableIpv4,
  type Waiting,
} from "./routing_types.ts";

/** The timers of an igmp or mld section (version: IGMP 2|3, default 3; MLD 1|2, default 2). */
export function igmpTimers(
  c: NonNullable<Config["igmp"] | Config["mld"]>,
  defaultVersion = DEFAULT_IGMP_TIMERS.version,
): IgmpTimers {
  const d = DEFAULT_IGMP_TIMERS;
  return {
    version: c.version ?? defaultVersion,
    queryIntervalMs: c.query_interval_ms ?? d.queryIntervalMs,
    queryResponseMs: c.query_response_ms ?? d.queryResponseMs,
    lastMemberIntervalMs: c.last_member_interval_ms ?? d.lastMemberIntervalMs,
    lastMemberCount: c.last_member_count ?? d.lastMemberCount,
    robustness: c.robustness ?? d.robustness,
    maxGroups: c.max_groups ?? d.maxGroups,
  };
}

/** The link-local IPv6 address of an interface as text (MLD queries come from it, RFC 3810 5), or null. */
export function linkLocalAddress(ifname: string): string | null {
  const bytes = linkLocalIpv6(ifname);
  return bytes === null ? null : formatIp({ family: 6, bytes });
}

/** What differs between IGMP and MLD; everything else is the same speaker. */
interface ListenerFamily {
  kind: "igmp" | "mld";
  family: 4 | 6;
  proto: number;
  /** The query version when the section names none (IGMPv3, MLDv2). */
  defaultVersion: number;
  /** MLD versions are one below the IGMP versions the shared state machine counts in. */
  versionOffset: number;
  section(config: Config): Config["igmp"] | Config["mld"];
  /** The links this family can run on now; the interfaces that cannot are added to `waiting`. */
  wanted(
    names: string[] | undefined,
    facts: ReadonlyMap<string, InterfaceFacts>,
    linkLocal: (ifname: string) => string | null,
    waiting: Waiting[],
  ): Map<string, LinkWanted>;
  /** An IP packet from the socket as a message and its source address. */
  parse(packet: Uint8Array): { p: Parsed<{ source: string }>; m: Parsed<IgmpMessage> };
  /**
   * A query as an IP packet: general queries to all systems (all nodes),
   * group-specific ones to the group (RFC 3376 4.1.12, RFC 3810 5.1.15).
   */
  query(from: string, t: IgmpTimers, q: QueryOut): { packet: Uint8Array; destination: string };
}

export const IGMP: ListenerFamily = {
  kind: "igmp",
  family: 4,
  proto: IGMP_PROTOCOL,
  defaultVersion: 3,
  versionOffset: 0,
  section: (config) => config.igmp,
  wanted: (names, facts, _linkLocal, waiting) => usableIpv4(names, facts, "igmp", waiting),
  parse(packet) {
    const p = parseIpv4(packet);
    return { p, m: p.ok ? parseIgmp(p.value.payload) : p };
  },
  query(from, t, q) {
    const intervalS = Math.round(t.queryIntervalMs / 1000);
    const destination = q.group === "0.0.0.0" ? ALL_SYSTEMS : q.group;
    const igmp = buildQuery(t.version as 2 | 3, q.group, q.maxResponseMs, t.robustness, intervalS);
    return { packet: buildIpv4(from, destination, IGMP_PROTOCOL, 1, igmp, true), destination };
  },
};

export const MLD: ListenerFamily = {
  kind: "mld",
  family: 6,
  proto: 58,
  defaultVersion: 2,
  versionOffset: 1,
  section: (config) => config.mld,
  wanted(names, facts, linkLocal, waiting) {
    const out = new Map<string, LinkWanted>();
    for (const name of names ?? []) {
      const f = facts.get(name);
      const ll = f ? linkLocal(name) : null;
      if (!f) waiting.push({ interface: name, protocol: "mld", reason: "absent" });
      else if (ll === null) {
        waiting.push({ interface: name, protocol: "mld", reason: "no IPv6 link-local address" });
      } else out.set(name, { ifindex: f.ifindex, address: ll });
    }
    return out;
  },
  parse(packet) {
    const p = parseIpv6Icmp(packet);
    return { p, m: p.ok ? parseMld(p.value.payload) : p };
  },
  query(from, t, q) {
    const intervalS = Math.round(t.queryIntervalMs / 1000);
    const destination = q.group === "::" ? ALL_NODES : q.group;
    const mld = buildMldQuery(
      t.version as 1 | 2,
      q.group,
      q.maxResponseMs,
      t.robustness,
      intervalS,
    );
    return { packet: buildIpv6Mld(from, destination, mld), destination };
  },
};

export interface ListenerSpeakerDeps extends SpeakerDeps {
  /** The link-local IPv6 address of an interface (MLD's source address), or null. */
  linkLocal?: (ifname: string) => string | null;
}

type ListenerLink = Link & { router: IgmpRouter };

export class ListenerSpeaker {
  #links = new Map<string, ListenerLink>();
  #waiting: Waiting[] = [];
  #stopped = false;
  #linkLocal: (ifname: string) => string | null;

  constructor(readonly family: ListenerFamily, private deps: ListenerSpeakerDeps) {
    this.#linkLocal = deps.linkLocal ?? linkLocalAddress;
  }

  /**
   * Opens the sockets `config` needs on the interfaces that exist (`facts`);
   * changes nothing yet. Throws, having closed what it opened, if a socket
   * cannot be had.
   */
  prepare(config: Config, facts: ReadonlyMap<string, InterfaceFacts>, now: number): SpeakerChange {
    const { kind, family, proto } = this.family;
    const section = this.family.section(config);
    const waiting: Waiting[] = [];
    const wanted = this.family.wanted(section?.interfaces, facts, this.#linkLocal, waiting);
    const sockets = new Map<string, ProtocolSocket>();
    const abort = () => Promise.all([...sockets.values()].map((s) => s.close())).then(() => {});
    try {
      for (const [name, w] of wanted) {
        if (reusable(this.#links, name, w)) continue;
        sockets.set(name, this.deps.openSocket(w.ifindex, family, proto, `${kind} on ${name}`));
      }
    } catch (err) {
      abort().catch(() => {});
      throw err;
    }
    return { abort, commit: () => this.#commit(section, wanted, sockets, waiting, now) };
  }

  /** A link keeps its state (groups, querier) while its address stays; new timers apply to it. */
  async #commit(
    section: Config["igmp"] | Config["mld"],
    wanted: Map<string, LinkWanted>,
    sockets: Map<string, ProtocolSocket>,
    waiting: Waiting[],
    now: number,
  ): Promise<void> {
    const { kind, defaultVersion } = this.family;
    this.#waiting = waiting;
    const closing: Promise<void>[] = [];
    for (const [name, link] of this.#links) {
      const w = wanted.get(name);
      if (w && reusable(this.#links, name, w)) {
        link.router.timers = igmpTimers(section!, defaultVersion);
        continue;
      }
      this.#links.delete(name);
      closing.push(link.socket.close());
    }
    for (const [name, w] of wanted) {
      const socket = sockets.get(name);
      if (!socket) continue;
      this.#links.set(name, {
        ...w,
        socket,
        router: new IgmpRouter(w.address, igmpTimers(section!, defaultVersion), now),
      });
      socket.follow(
        (p) => guard(this.deps.log, kind.toUpperCase(), () => this.#onPacket(name, p)),
        (n) => this.deps.count(`${kind}_overrun`, n),
      );
    }
    await Promise.all(closing);
  }

  /** Interfaces of the section that cannot run yet. */
  waiting(): Waiting[] {
    return this.#waiting;
  }

  /**
   * Adds the groups present on each link to `into`, on the links where
   * local receivers count (`counts`: PIM runs there too and another router
   * is the DR, RFC 7761 4.1.6).
   */
  present(into: Map<string, Set<string>>, now: number, counts: (ifname: string) => boolean): void {
    for (const [name, link] of this.#links) {
      if (!counts(name)) continue;
      const groups = link.router.presentGroups(now);
      if (groups.length === 0) continue;
      if (!into.has(name)) into.set(name, new Set());
      for (const g of groups) into.get(name)!.add(g);
    }
  }

  status(now: number): ListenerLinkState[] {
    const offset = this.family.versionOffset;
    return [...this.#links].map(([name, l]) => ({
      interface: name,
      address: l.address,
      version: l.router.timers.version,
      querier: l.router.querier(now),
      is_querier: l.router.isQuerier(now),
      groups: l.router.groups(now).map((g) => ({ ...g, version: g.version - offset })),
    }));
  }

  /** Advances every link's router and sends the queries due; returns when to be called next. */
  advance(now: number): number {
    const kind = this.family.kind;
    let due = Infinity;
    for (const [name, link] of this.#links) {
      link.router.tick(now);
      for (const q of link.router.outbox.splice(0)) {
        const { packet, destination } = this.family.query(link.address, link.router.timers, q);
        sendOn(
          this.deps,
          link,
          packet,
          destination,
          `${kind.toUpperCase()} query on ${name}`,
          `${kind}_sent`,
        );
      }
      due = Math.min(due, link.router.nextDue(now));
    }
    return due;
  }

  /** Closes every link (no goodbye: a querier that goes quiet is replaced by the next one). */
  stop(): Promise<void> {
    this.#stopped = true;
    const closing = [...this.#links.values()].map((l) => l.socket.close());
    this.#links.clear();
    return Promise.all(closing).then(() => {});
  }

  /** An IGMP (IPv4) or MLD (IPv6) packet: both feed the same router state machine. */
  #onPacket(name: string, packet: Uint8Array): void {
    const kind = this.family.kind;
    const link = this.#links.get(name);
    if (!link || this.#stopped) return;
    const { p, m } = this.family.parse(packet);
    if (!p.ok || !m.ok) {
      this.deps.count(`${kind}_invalid`);
      this.deps.log.debug?.(`invalid ${kind.toUpperCase()} packet dropped`, {
        interface: name,
        reason: m.ok ? "" : m.reason,
      });
      return;
    }
    this.deps.count(`${kind}_received`);
    const before = link.router.querier(this.deps.now());
    const refused = link.router.refused;
    link.router.receive(m.value, p.value.source, this.deps.now());
    if (link.router.refused !== refused) {
      this.deps.count(`${kind}_groups_refused`, link.router.refused - refused);
    }
    const after = link.router.querier(this.deps.now());
    if (before !== after) {
      this.deps.log.info(`${kind.toUpperCase()} querier on ${name} is now ${after}`, {
        interface: name,
        querier: after,
      });
      this.deps.onEvent({ protocol: kind, interface: name, querier: after });
    }
    this.deps.soon();
  }
}
