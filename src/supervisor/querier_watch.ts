/**
 * Queriers seen on the links where mcr joins groups as a host. A snooping
 * switch forwards a group only after a querier has asked for it, so "no
 * querier on the input link" is a common reason a joined stream never
 * arrives (`mcr explain` reports it). On every (interface, family) where
 * memberships are held, a protocol socket listens for IGMP (IPv4) or MLD
 * (IPv6) queries only and keeps the last one: who sent it, which version,
 * when. Listening costs a waiting thread per link and nothing per relayed
 * packet (the socket's kernel filter passes IGMP or ICMPv6 MLD alone).
 */
import { parseIgmp } from "../protocols/igmp.ts";
import { parseIpv4, parseIpv6Icmp } from "../protocols/ip_packet.ts";
import { parseMld } from "../protocols/mld.ts";
import type { QuerierSeen } from "../stats/snapshot.ts";
import type { ProtocolSocket } from "./routing_types.ts";

export type { QuerierSeen };

/** A link where memberships are held. */
export interface HostLink {
  interface: string;
  family: 4 | 6;
  ifindex: number;
}

interface Watched {
  socket: ProtocolSocket | null;
  seen: QuerierSeen;
  ifindex: number;
}

const IGMP = 2;
const ICMPV6 = 58;

/** The query in an IP packet of `family`, or null (reports, leaves, anything malformed). */
export function queryIn(
  packet: Uint8Array,
  family: 4 | 6,
): { from: string; version: string } | null {
  if (family === 4) {
    const p = parseIpv4(packet);
    if (!p.ok || p.value.protocol !== IGMP) return null;
    const m = parseIgmp(p.value.payload);
    return m.ok && m.value.kind === "query"
      ? { from: p.value.source, version: `IGMPv${m.value.version}` }
      : null;
  }
  const p = parseIpv6Icmp(packet);
  if (!p.ok) return null;
  const m = parseMld(p.value.payload);
  // MLD versions are one below the IGMP versions the shared parser counts in.
  return m.ok && m.value.kind === "query"
    ? { from: p.value.source, version: `MLDv${m.value.version - 1}` }
    : null;
}

export class QuerierWatch {
  #links = new Map<string, Watched>();

  constructor(
    private open: (ifindex: number, family: 4 | 6, proto: number, label: string) => ProtocolSocket,
    private now: () => number = Date.now,
  ) {}

  /**
   * Listens on exactly `links`: new ones are opened, gone ones (or ones whose
   * interface was re-created with another index) closed. Never throws: a
   * socket the kernel refuses is recorded as the link's error.
   */
  sync(links: readonly HostLink[]): void {
    const wanted = new Map(links.map((l) => [`${l.interface}|${l.family}`, l]));
    for (const [key, w] of this.#links) {
      const l = wanted.get(key);
      if (l !== undefined && l.ifindex === w.ifindex) continue;
      this.#links.delete(key);
      void w.socket?.close();
    }
    for (const [key, l] of wanted) {
      if (this.#links.has(key)) continue;
      const seen: QuerierSeen = {
        interface: l.interface,
        family: l.family,
        querier: null,
        version: null,
        last_query_at_ms: null,
        queries: 0,
        since_ms: this.now(),
        error: null,
      };
      const w: Watched = { socket: null, seen, ifindex: l.ifindex };
      try {
        w.socket = this.open(l.ifindex, l.family, l.family === 4 ? IGMP : ICMPV6, l.interface);
        w.socket.follow((packet) => {
          const q = queryIn(packet, l.family);
          if (q === null) return;
          seen.querier = q.from;
          seen.version = q.version;
          seen.last_query_at_ms = this.now();
          seen.queries++;
        });
      } catch (err) {
        seen.error = (err as Error).message;
      }
      this.#links.set(key, w);
    }
  }

  /** What was heard on each link listened to. */
  seen(): QuerierSeen[] {
    return [...this.#links.values()].map((w) => ({ ...w.seen }));
  }

  async closeAll(): Promise<void> {
    const all = [...this.#links.values()];
    this.#links.clear();
    await Promise.all(all.map((w) => w.socket?.close()));
  }
}
