/**
 * The routing-protocol speakers (IGMP querier, PIM-SM neighbour, MSDP
 * peers): sockets from ffi/control.ts and TCP, the protocol state machines
 * from src/protocols/, one timer. Packets are control messages only: the
 * relayed streams never pass through here. What receivers and routers ask
 * for is read back as a Demand (src/supervisor/demand.ts); when it changes,
 * onDemandChange() asks the supervisor for a re-plan through its one queue.
 */
import { ControlSocket, UnicastSender } from "../../ffi/control.ts";
import { linkLocalIpv6 } from "../../ffi/iface.ts";
import type { Config } from "../config/schema.ts";
import { formatIp, ip, multicastMac } from "../net/address.ts";
import { ALL_SYSTEMS, buildQuery, IGMP_PROTOCOL, parseIgmp } from "../protocols/igmp.ts";
import {
  DEFAULT_IGMP_TIMERS,
  type GroupState,
  IgmpRouter,
  type IgmpTimers,
  type QueryOut,
} from "../protocols/igmp_state.ts";
import { buildIpv4, buildIpv6Mld, parseIpv4, parseIpv6Icmp } from "../protocols/ip_packet.ts";
import { ALL_NODES, buildMldQuery, parseMld } from "../protocols/mld.ts";
import type { SaEntry } from "../protocols/msdp.ts";
import type { SaCacheEntry } from "../protocols/msdp_peer.ts";
import { type MsdpChange, MsdpSpeaker } from "./msdp_speaker.ts";
import {
  ALL_PIM_ROUTERS,
  buildHello,
  buildNullRegister,
  parsePim,
  PIM_PROTOCOL,
  PimType,
} from "../protocols/pim.ts";
import { RegisterSender, type RegisterState } from "../protocols/pim_register.ts";
import { type LearnedRoute, type NeighborState, PimRouter } from "../protocols/pim_state.ts";
import { PROTOCOL_COUNTERS, type ProtocolCounterName } from "../stats/registry.ts";
import type { Demand } from "./demand.ts";
import type { InterfaceFacts } from "./plan.ts";
import { ipv4Text } from "./interfaces.ts";

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

export interface RoutingDeps {
  log: RoutingLogger;
  onEvent: (data: Record<string, unknown>) => void;
  /** Called (synchronously, must not block) when what receivers and routers ask for changed. */
  onDemandChange: () => void;
  /** The (source, group) pairs mcr relays now, for MSDP Source-Active messages. */
  advertised: () => SaEntry[];
  openSocket?: (ifindex: number, family: 4 | 6, proto: number, label: string) => ProtocolSocket;
  /** The link-local IPv6 address of an interface (MLD's source address), or null. */
  linkLocal?: (ifname: string) => string | null;
  openUnicast?: () => UnicastSocket;
  now?: () => number;
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

/** Every interface the routing sections name (the supervisor watches them like rule interfaces). */
export function protocolInterfaces(config: Config): string[] {
  return [
    ...new Set([
      ...(config.igmp?.interfaces ?? []),
      ...(config.mld?.interfaces ?? []),
      ...(config.pim?.interfaces ?? []),
    ]),
  ];
}

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

function pimOptions(c: NonNullable<Config["pim"]>, generationId: number) {
  const helloIntervalMs = c.hello_interval_ms ?? 30_000;
  return {
    helloIntervalMs,
    holdtimeS: c.hold_time_s ?? Math.ceil((helloIntervalMs * 3.5) / 1000),
    drPriority: c.dr_priority ?? 1,
    maxRoutes: c.max_learned_routes ?? 256,
    rps: (c.rp ?? []).map((r) => ({ address: r.address, prefix: r.groups })),
    generationId,
    overrideMs: c.prune_override_ms ?? 3000,
  };
}

interface Link {
  ifindex: number;
  address: string;
  socket: ProtocolSocket;
}

export class Routing {
  readonly counters = Object.fromEntries(PROTOCOL_COUNTERS.map((c) => [c.name, 0])) as Record<
    ProtocolCounterName,
    number
  >;
  #igmpLinks = new Map<string, Link & { router: IgmpRouter }>();
  #mldLinks = new Map<string, Link & { router: IgmpRouter }>();
  #pimLinks = new Map<string, Link>();
  #pim: PimRouter | null = null;
  #register = new RegisterSender();
  #unicast: UnicastSocket | null = null;
  #registerCheckedAt = -Infinity;
  #pimKey = "";
  #msdp: MsdpSpeaker;
  #waiting: RoutingStatus["waiting"] = [];
  #rps: { address: string; groups: string }[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #runQueued = false;
  #demandKey = JSON.stringify([[], []]);
  #present = new Set<string>();
  #stopped = false;
  #now: () => number;
  #open: (ifindex: number, family: 4 | 6, proto: number, label: string) => ProtocolSocket;
  #linkLocal: (ifname: string) => string | null;
  #openUnicast: () => UnicastSocket;

  constructor(private deps: RoutingDeps) {
    this.#now = deps.now ?? Date.now;
    this.#open = deps.openSocket ??
      ((ifindex, family, proto, label) => ControlSocket.open(ifindex, family, proto, label));
    this.#linkLocal = deps.linkLocal ?? linkLocalAddress;
    this.#msdp = new MsdpSpeaker({
      advertised: deps.advertised,
      count: (c, n) => this.#count(c, n),
      onEvent: (data) => deps.onEvent({ protocol: "msdp", ...data }),
      log: deps.log,
    });
    this.#openUnicast = deps.openUnicast ?? (() => UnicastSender.open(PIM_PROTOCOL));
  }

  #count(name: ProtocolCounterName, n = 1): void {
    this.counters[name] += n;
  }

  /**
   * Puts the routing sections of `config` in force on the interfaces that
   * exist (`facts`). Everything that can fail (sockets, listeners) is opened
   * before anything in force changes: a failure throws and changes nothing.
   */
  async apply(config: Config, facts: ReadonlyMap<string, InterfaceFacts>): Promise<void> {
    if (this.#stopped) return;
    const now = this.#now();
    const waiting: RoutingStatus["waiting"] = [];
    const usable = (names: string[] | undefined, protocol: "igmp" | "pim") => {
      const out = new Map<string, { ifindex: number; address: string }>();
      for (const name of names ?? []) {
        const f = facts.get(name);
        if (!f) waiting.push({ interface: name, protocol, reason: "absent" });
        else if (f.ipv4 === 0) {
          waiting.push({ interface: name, protocol, reason: "no IPv4 address" });
        } else out.set(name, { ifindex: f.ifindex, address: ipv4Text(f.ipv4)! });
      }
      return out;
    };
    const igmpWanted = usable(config.igmp?.interfaces, "igmp");
    const pimWanted = usable(config.pim?.interfaces, "pim");
    const mldWanted = new Map<string, { ifindex: number; address: string }>();
    for (const name of config.mld?.interfaces ?? []) {
      const f = facts.get(name);
      const ll = f ? this.#linkLocal(name) : null;
      if (!f) waiting.push({ interface: name, protocol: "mld", reason: "absent" });
      else if (ll === null) {
        waiting.push({ interface: name, protocol: "mld", reason: "no IPv6 link-local address" });
      } else mldWanted.set(name, { ifindex: f.ifindex, address: ll });
    }
    const opened: ProtocolSocket[] = [];
    let msdp: MsdpChange | null = null;
    const reuse = (
      links: Map<string, Link>,
      name: string,
      w: { ifindex: number; address: string },
    ) => {
      const l = links.get(name);
      return l && l.ifindex === w.ifindex && l.address === w.address ? l : undefined;
    };
    const newSockets = new Map<string, ProtocolSocket>();
    let newUnicast: UnicastSocket | null = null;
    try {
      for (
        const [kind, wanted, links, family, proto] of [
          ["igmp", igmpWanted, this.#igmpLinks, 4, IGMP_PROTOCOL],
          ["mld", mldWanted, this.#mldLinks, 6, 58],
          ["pim", pimWanted, this.#pimLinks, 4, PIM_PROTOCOL],
        ] as const
      ) {
        for (const [name, w] of wanted) {
          if (reuse(links, name, w)) continue;
          const s = this.#open(w.ifindex, family, proto, `${kind} on ${name}`);
          opened.push(s);
          newSockets.set(`${kind}|${name}`, s);
        }
      }
      if (config.pim && !this.#unicast) newUnicast = this.#openUnicast();
      msdp = this.#msdp.prepare(config);
    } catch (err) {
      msdp?.abort();
      newUnicast?.close();
      await Promise.all(opened.map((s) => s.close()));
      throw err;
    }
    // ---- nothing below fails: put it in force ----
    this.#waiting = waiting;
    const closing: Promise<void>[] = [];
    // IGMP and MLD: a link keeps its state (groups, querier) while its address stays; new timers apply to it.
    for (
      const [kind, wanted, links, section, version] of [
        ["igmp", igmpWanted, this.#igmpLinks, config.igmp, 3],
        ["mld", mldWanted, this.#mldLinks, config.mld, 2],
      ] as const
    ) {
      for (const [name, link] of links) {
        const w = wanted.get(name);
        if (w && reuse(links, name, w)) {
          link.router.timers = igmpTimers(section!, version);
          continue;
        }
        links.delete(name);
        closing.push(link.socket.close());
      }
      for (const [name, w] of wanted) {
        const socket = newSockets.get(`${kind}|${name}`);
        if (!socket) continue;
        links.set(name, {
          ...w,
          socket,
          router: new IgmpRouter(w.address, igmpTimers(section!, version), now),
        });
        socket.follow(
          (p) => this.#guard(kind.toUpperCase(), () => this.#onListener(kind, name, p)),
          (n) => this.#count(`${kind}_overrun`, n),
        );
      }
    }
    // PIM: one router over its links; new options apply to it, neighbours and routes kept.
    const pimKey = JSON.stringify(config.pim ? { ...config.pim, interfaces: [] } : null);
    if (pimKey !== this.#pimKey) {
      this.#pimKey = pimKey;
      const generationId = crypto.getRandomValues(new Uint32Array(1))[0];
      if (!config.pim && this.#pim) {
        this.#pim.shutdown();
        this.#flushPim();
        this.#pim = null;
      } else if (config.pim && this.#pim) {
        this.#pim.reconfigure(pimOptions(config.pim, generationId));
      } else if (config.pim) {
        this.#pim = new PimRouter(
          pimOptions(config.pim, generationId),
          (c, n) => this.#count(c, n),
        );
      }
    }
    // Links left say goodbye (Hello holdtime 0) before their sockets close.
    this.#pim?.setInterfaces(
      [...pimWanted].map(([name, w]) => ({ name, address: w.address })),
      now,
    );
    this.#flushPim();
    for (const [name, link] of this.#pimLinks) {
      const w = pimWanted.get(name);
      if (w && reuse(this.#pimLinks, name, w)) continue;
      this.#pimLinks.delete(name);
      closing.push(link.socket.close());
    }
    for (const [name, w] of pimWanted) {
      const socket = newSockets.get(`pim|${name}`);
      if (!socket) continue;
      this.#pimLinks.set(name, { ...w, socket });
      socket.follow(
        (p) => this.#guard("PIM", () => this.#onPim(name, p)),
        (n) => this.#count("pim_overrun", n),
      );
    }
    this.#rps = config.pim?.rp?.map((r) => ({ ...r })) ?? [];
    if (newUnicast) this.#unicast = newUnicast;
    if (!config.pim && this.#unicast) {
      this.#unicast.close();
      this.#unicast = null;
      this.#register.update([], now);
    }
    this.#registerCheckedAt = -Infinity;
    closing.push(msdp!.commit());
    await Promise.all(closing);
    this.#run();
  }

  /**
   * Groups present (IGMP, MLD) and routes joined (PIM), now. On a link where
   * PIM runs too, local receivers count only while mcr is the DR there (RFC
   * 7761 4.1.6 local_receiver_include): the DR forwards for them, another
   * router would forward them a second copy.
   */
  demand(): Demand {
    const now = this.#now();
    const igmp = new Map<string, Set<string>>();
    for (const links of [this.#igmpLinks, this.#mldLinks]) {
      for (const [name, link] of links) {
        const pimAddress = this.#pim?.address(name);
        if (pimAddress !== undefined && this.#pim!.dr(name) !== pimAddress) continue;
        const groups = link.router.presentGroups(now);
        if (groups.length === 0) continue;
        if (!igmp.has(name)) igmp.set(name, new Set());
        for (const g of groups) igmp.get(name)!.add(g);
      }
    }
    const pim = this.#pim?.routes(now).map((r) => ({
      interface: r.interface,
      source: r.source,
      group: r.group,
      except: r.rpt_pruned,
    })) ?? [];
    return { igmp, pim };
  }

  /** Sends SAs to every established peer now (the relayed sources changed). */
  advertise(): void {
    this.#msdp.advertise();
  }

  status(): RoutingStatus {
    const now = this.#now();
    return {
      igmp: { interfaces: listenerLinks(this.#igmpLinks, now, 0) },
      // MLD versions are one below the IGMP versions the shared state machine counts in.
      mld: { interfaces: listenerLinks(this.#mldLinks, now, 1) },
      pim: {
        interfaces: (this.#pim?.interfaces() ?? []).map((i) => ({
          ...i,
          is_dr: i.dr === i.address,
        })),
        neighbors: this.#pim?.neighbors(now) ?? [],
        routes: this.#pim?.routes(now) ?? [],
        rp: this.#rps,
        registers: this.#register.states(),
      },
      msdp: this.#msdp.status(now),
      waiting: [
        ...this.#waiting,
        ...this.#msdp.waiting().map((local) => ({
          interface: local,
          protocol: "msdp" as const,
          reason: "local address not on this host (yet): retried every 5 s",
        })),
      ],
      counters: { ...this.counters },
    };
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearTimeout(this.#timer);
    if (this.#pim) {
      this.#pim.shutdown();
      this.#flushPim();
    }
    const closing: Promise<void>[] = [];
    for (const l of this.#igmpLinks.values()) closing.push(l.socket.close());
    for (const l of this.#mldLinks.values()) closing.push(l.socket.close());
    for (const l of this.#pimLinks.values()) closing.push(l.socket.close());
    closing.push(this.#msdp.stop());
    this.#unicast?.close();
    this.#unicast = null;
    this.#igmpLinks.clear();
    this.#mldLinks.clear();
    this.#pimLinks.clear();
    await Promise.all(closing);
  }

  // ---- packets in ------------------------------------------------------------

  /** An IGMP (IPv4) or MLD (IPv6) packet: both feed the same router state machine. */
  #onListener(kind: "igmp" | "mld", name: string, packet: Uint8Array): void {
    const link = (kind === "igmp" ? this.#igmpLinks : this.#mldLinks).get(name);
    if (!link || this.#stopped) return;
    const p = kind === "igmp" ? parseIpv4(packet) : parseIpv6Icmp(packet);
    const m = p.ok ? (kind === "igmp" ? parseIgmp(p.value.payload) : parseMld(p.value.payload)) : p;
    if (!p.ok || !m.ok) {
      this.#count(`${kind}_invalid`);
      this.deps.log.debug?.(`invalid ${kind.toUpperCase()} packet dropped`, {
        interface: name,
        reason: m.ok ? "" : m.reason,
      });
      return;
    }
    this.#count(`${kind}_received`);
    const before = link.router.querier(this.#now());
    const refused = link.router.refused;
    link.router.receive(m.value, p.value.source, this.#now());
    if (link.router.refused !== refused) {
      this.#count(`${kind}_groups_refused`, link.router.refused - refused);
    }
    const after = link.router.querier(this.#now());
    if (before !== after) {
      this.deps.log.info(`${kind.toUpperCase()} querier on ${name} is now ${after}`, {
        interface: name,
        querier: after,
      });
      this.deps.onEvent({ protocol: kind, interface: name, querier: after });
    }
    this.#soon();
  }

  #onPim(name: string, packet: Uint8Array): void {
    if (!this.#pimLinks.has(name) || !this.#pim || this.#stopped) return;
    const p = parseIpv4(packet);
    const m = p.ok ? parsePim(p.value.payload) : p;
    if (!p.ok || !m.ok) {
      this.#count("pim_invalid");
      this.deps.log.debug?.("invalid PIM packet dropped", {
        interface: name,
        reason: m.ok ? "" : m.reason,
      });
      return;
    }
    this.#count("pim_received");
    const now = this.#now();
    const v = m.value;
    if (v.type === PimType.HELLO && "hello" in v) {
      const known = this.#pim.neighbors(now).some((n) =>
        n.interface === name && n.address === p.value.source
      );
      this.#pim.receiveHello(name, p.value.source, v.hello, now);
      const still = this.#pim.neighbors(now).some((n) =>
        n.interface === name && n.address === p.value.source
      );
      if (known !== still) {
        this.deps.log.info(`PIM neighbour ${p.value.source} on ${name} ${still ? "up" : "down"}`, {
          interface: name,
        });
        this.deps.onEvent({
          protocol: "pim",
          interface: name,
          neighbor: p.value.source,
          state: still ? "up" : "down",
        });
      }
    } else if (v.type === PimType.JOIN_PRUNE && "joinPrune" in v) {
      this.#pim.receiveJoinPrune(name, p.value.source, v.joinPrune, now);
    } else if (v.type === PimType.REGISTER_STOP && "registerStop" in v) {
      const stop = v.registerStop;
      if (this.#register.receiveStop(p.value.source, stop.group, stop.source, now)) {
        this.#count("pim_register_stops");
      } else this.#count("pim_ignored");
    } else {
      this.#count("pim_ignored");
    }
    this.#soon();
  }

  // ---- time and packets out ---------------------------------------------------

  /**
   * A packet handler's failure is logged, never thrown into the socket's
   * reader (where it would end the reader, or the process).
   */
  #guard(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.deps.log.warn(`handling a ${what} packet failed`, { error: (err as Error).message });
    }
  }

  /**
   * After packets: one #run for all the packets of a burst (a reader hands
   * up to 256 at once), not one per packet.
   */
  #soon(): void {
    if (this.#runQueued) return;
    this.#runQueued = true;
    queueMicrotask(() => {
      this.#runQueued = false;
      this.#run();
    });
  }

  /** Advances every state machine, sends what is due, notices demand changes, sets the next timer (always). */
  #run(): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    const now = this.#now();
    let due = now + 1000;
    try {
      due = this.#advance(now);
    } catch (err) {
      this.deps.log.warn("a routing-protocol timer step failed (tried again in 1 s)", {
        error: (err as Error).message,
      });
    }
    this.#timer = setTimeout(() => this.#run(), Math.max(5, due - now + 1));
  }

  #advance(now: number): number {
    let due = now + 60_000;
    due = Math.min(due, this.#msdp.retry(now));
    for (const kind of ["igmp", "mld"] as const) {
      for (const [name, link] of kind === "igmp" ? this.#igmpLinks : this.#mldLinks) {
        link.router.tick(now);
        for (const q of link.router.outbox.splice(0)) {
          const { packet, destination } = queryPacket(kind, link.address, link.router.timers, q);
          this.#send(
            link,
            packet,
            destination,
            `${kind.toUpperCase()} query on ${name}`,
            `${kind}_sent`,
          );
        }
        due = Math.min(due, link.router.nextDue(now));
      }
    }
    if (this.#pim) {
      const before = this.#pim.neighbors(now).map((n) => `${n.interface}|${n.address}`);
      this.#pim.tick(now);
      const after = new Set(this.#pim.neighbors(now).map((n) => `${n.interface}|${n.address}`));
      for (const gone of before.filter((k) => !after.has(k))) {
        const [iface, neighbor] = gone.split("|");
        this.deps.log.info(`PIM neighbour ${neighbor} on ${iface} timed out`, { interface: iface });
        this.deps.onEvent({ protocol: "pim", interface: iface, neighbor, state: "down" });
      }
      this.#flushPim();
      due = Math.min(due, this.#pim.nextDue(now), this.#registers(now));
    }
    this.#checkDemand();
    return due;
  }

  /**
   * Null-Registers for the streams mcr relays whose group has a static RP
   * that is not this router: the targets are looked at once a second at most.
   */
  #registers(now: number): number {
    if (!this.#pim || !this.#unicast) return Infinity;
    if (now - this.#registerCheckedAt >= 1000) {
      this.#registerCheckedAt = now;
      const mine = new Set([...this.#pimLinks.values()].map((l) => l.address));
      const targets = [];
      for (const sg of this.deps.advertised()) {
        const rp = this.#pim.rpFor(sg.group);
        if (rp !== null && !mine.has(rp)) targets.push({ ...sg, rp });
      }
      this.#register.update(targets, now);
    }
    this.#register.tick(now);
    for (const r of this.#register.outbox.splice(0)) {
      try {
        this.#unicast.send(
          ip(r.rp).bytes,
          buildNullRegister(r.source, r.group),
          `PIM Null-Register for (${r.source}, ${r.group}) to ${r.rp}`,
        );
        this.#count("pim_registers_sent");
      } catch (err) {
        this.deps.log.warn("PIM Register not sent", { rp: r.rp, error: (err as Error).message });
      }
    }
    return Math.min(this.#register.nextDue(now), now + 1000);
  }

  #flushPim(): void {
    if (!this.#pim) return;
    for (const h of this.#pim.outbox.splice(0)) {
      const link = this.#pimLinks.get(h.ifname);
      if (!link) continue;
      const hello = buildHello(
        h.holdtimeS,
        this.#pim.options.drPriority,
        this.#pim.options.generationId,
      );
      this.#send(
        link,
        buildIpv4(link.address, ALL_PIM_ROUTERS, PIM_PROTOCOL, 1, hello, false),
        ALL_PIM_ROUTERS,
        `PIM Hello on ${h.ifname}`,
        "pim_sent",
      );
    }
  }

  #send(
    link: Link,
    packet: Uint8Array,
    dst: string,
    label: string,
    counter: ProtocolCounterName,
  ): void {
    try {
      link.socket.send(packet, multicastMac(ip(dst)), label);
      this.#count(counter);
    } catch (err) {
      this.deps.log.warn(`${label} not sent`, { error: (err as Error).message });
    }
  }

  #checkDemand(): void {
    const d = this.demand();
    const present = new Set(
      [...d.igmp].flatMap(([name, groups]) => [...groups].map((g) => `${name}|${g}`)),
    );
    const key = JSON.stringify([[...present], d.pim]);
    if (key === this.#demandKey) return;
    this.#demandKey = key;
    for (const k of present) {
      if (this.#present.has(k)) continue;
      this.#count("igmp_groups_learned");
      const [iface, group] = k.split("|");
      this.deps.onEvent({ protocol: "igmp", interface: iface, group, state: "present" });
    }
    for (const k of this.#present) {
      if (present.has(k)) continue;
      const [iface, group] = k.split("|");
      this.deps.onEvent({ protocol: "igmp", interface: iface, group, state: "gone" });
    }
    this.#present = present;
    this.deps.onDemandChange();
  }
}

/**
 * An IGMP or MLD query as an IP packet: general queries to all systems (all
 * nodes), group-specific ones to the group (RFC 3376 4.1.12, RFC 3810 5.1.15).
 */
function queryPacket(
  kind: "igmp" | "mld",
  from: string,
  t: IgmpTimers,
  q: QueryOut,
): { packet: Uint8Array; destination: string } {
  const intervalS = Math.round(t.queryIntervalMs / 1000);
  if (kind === "igmp") {
    const destination = q.group === "0.0.0.0" ? ALL_SYSTEMS : q.group;
    const igmp = buildQuery(t.version as 2 | 3, q.group, q.maxResponseMs, t.robustness, intervalS);
    return { packet: buildIpv4(from, destination, IGMP_PROTOCOL, 1, igmp, true), destination };
  }
  const destination = q.group === "::" ? ALL_NODES : q.group;
  const mld = buildMldQuery(t.version as 1 | 2, q.group, q.maxResponseMs, t.robustness, intervalS);
  return { packet: buildIpv6Mld(from, destination, mld), destination };
}

function listenerLinks(
  links: Map<string, { address: string; router: IgmpRouter }>,
  now: number,
  versionOffset: number,
): ListenerLinkState[] {
  return [...links].map(([name, l]) => ({
    interface: name,
    address: l.address,
    version: l.router.timers.version,
    querier: l.router.querier(now),
    is_querier: l.router.isQuerier(now),
    groups: l.router.groups(now).map((g) => ({ ...g, version: g.version - versionOffset })),
  }));
}

/** The link-local IPv6 address of an interface as text (MLD queries come from it, RFC 3810 5), or null. */
export function linkLocalAddress(ifname: string): string | null {
  const bytes = linkLocalIpv6(ifname);
  return bytes === null ? null : formatIp({ family: 6, bytes });
}
