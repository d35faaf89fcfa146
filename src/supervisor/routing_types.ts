/**
 * What the routing-protocol speakers (listener_speaker.ts, pim_speaker.ts,
 * msdp_speaker.ts) and their composer (routing.ts) share: the sockets they
 * are given, what a speaker's prepare() hands back, the status the API
 * shows, and the two steps every multicast speaker takes the same way
 * (guarding a packet handler, sending on a link). Defined here, not in
 * routing.ts, so that no speaker imports its composer.
 */
import { formatIp, fromWords, ip, multicastMac } from "../net/address.ts";
import type { GroupState } from "../protocols/igmp_state.ts";
import type { SaCacheEntry } from "../protocols/msdp_peer.ts";
import type { RegisterState } from "../protocols/pim_register.ts";
import type { LearnedRoute, NeighborState } from "../protocols/pim_state.ts";
import type { ProtocolCounterName } from "../stats/registry.ts";
import type { InterfaceFacts } from "./plan.ts";

/** What the speakers need of a socket (ffi/control.ts ControlSocket; tests pass fakes). */
export interface ProtocolSocket {
  /** onDrops(n): packets the kernel dropped because the socket's buffer was full. */
  follow(
    onPacket: (packet: Uint8Array, cut: boolean) => void,
    onDrops?: (n: number) => void,
  ): void;
  send(packet: Uint8Array, mac: Uint8Array, label: string): void;
  close(): Promise<void>;
}

/** A unicast sender of PIM messages (ffi/control.ts UnicastSender; tests pass fakes). */
export interface UnicastSocket {
  send(dst: Uint8Array, message: Uint8Array, label: string): void;
  close(): void;
}

export interface RoutingLogger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  debug?(msg: string, fields?: Record<string, unknown>): void;
}

/** One link of the IGMP or MLD querier, as the API shows it. */
export interface ListenerLinkState {
  interface: string;
  address: string;
  version: number;
  querier: string;
  is_querier: boolean;
  groups: GroupState[];
}

export interface RoutingStatus {
  igmp: { interfaces: ListenerLinkState[] };
  mld: { interfaces: ListenerLinkState[] };
  pim: {
    interfaces: {
      interface: string;
      address: string;
      dr: string | null;
      is_dr: boolean;
      neighbors: number;
    }[];
    neighbors: NeighborState[];
    routes: LearnedRoute[];
    rp: { address: string; groups: string }[];
    /** (S,G)s registered with their RP (Null-Registers; src/protocols/pim_register.ts). */
    registers: RegisterState[];
  };
  msdp: { peers: Record<string, unknown>[]; sa_cache: SaCacheEntry[] };
  /** Interfaces named in igmp/mld/pim that cannot speak yet (absent, no address), MSDP local addresses not on this host yet. */
  waiting: { interface: string; protocol: "igmp" | "mld" | "pim" | "msdp"; reason: string }[];
  counters: Record<ProtocolCounterName, number>;
}

export type Waiting = RoutingStatus["waiting"][number];

/** What a speaker's prepare() opened for a configuration, to put in force (commit) or throw away (abort). */
export interface SpeakerChange {
  commit(): Promise<void>;
  abort(): Promise<void> | void;
}

/** What the composer gives the IGMP, MLD and PIM speakers. */
export interface SpeakerDeps {
  log: RoutingLogger;
  onEvent: (data: Record<string, unknown>) => void;
  count: (name: ProtocolCounterName, n?: number) => void;
  now: () => number;
  openSocket: (ifindex: number, family: 4 | 6, proto: number, label: string) => ProtocolSocket;
  /** Asks for one step of the routing timer after the packets of a burst. */
  soon: () => void;
}

/** An interface a speaker runs on: its socket, opened for this ifindex and address. */
export interface Link {
  ifindex: number;
  address: string;
  socket: ProtocolSocket;
}

/** Where a link wants to be: the interface's index and the address the speaker sends from. */
export interface LinkWanted {
  ifindex: number;
  address: string;
}

/** The link in force on `name` if it can be kept for `w` (same ifindex and address). */
export function reusable<L extends Link>(
  links: Map<string, L>,
  name: string,
  w: LinkWanted,
): L | undefined {
  const l = links.get(name);
  return l && l.ifindex === w.ifindex && l.address === w.address ? l : undefined;
}

/** The interfaces of `names` that have an IPv4 address; the others are added to `waiting`. */
export function usableIpv4(
  names: string[] | undefined,
  facts: ReadonlyMap<string, InterfaceFacts>,
  protocol: "igmp" | "pim",
  waiting: Waiting[],
): Map<string, LinkWanted> {
  const out = new Map<string, LinkWanted>();
  for (const name of names ?? []) {
    const f = facts.get(name);
    if (!f) waiting.push({ interface: name, protocol, reason: "absent" });
    else if (f.ipv4 === 0) {
      waiting.push({ interface: name, protocol, reason: "no IPv4 address" });
    } else out.set(name, { ifindex: f.ifindex, address: formatIp(fromWords(4, [f.ipv4])) });
  }
  return out;
}

/**
 * A packet handler's failure is logged, never thrown into the socket's
 * reader (where it would end the reader, or the process).
 */
export function guard(log: RoutingLogger, what: string, fn: () => void): void {
  try {
    fn();
  } catch (err) {
    log.warn(`handling a ${what} packet failed`, { error: (err as Error).message });
  }
}

/** Sends a multicast packet on a link, counted; a failure is logged, not thrown. */
export function sendOn(
  deps: Pick<SpeakerDeps, "log" | "count">,
  link: Link,
  packet: Uint8Array,
  dst: string,
  label: string,
  counter: ProtocolCounterName,
): void {
  try {
    link.socket.send(packet, multicastMac(ip(dst)), label);
    deps.count(counter);
  } catch (err) {
    deps.log.warn(`${label} not sent`, { error: (err as Error).message });
  }
}
