/**
 * The routing-protocol speakers composed: the IGMP and MLD queriers
 * (listener_speaker.ts), the PIM-SM neighbour (pim_speaker.ts) and the MSDP
 * peers (msdp_speaker.ts), each with a prepare() that opens what a
 * configuration needs and a commit() that puts it in force. Routing puts a
 * configuration in force on all of them or on none, runs the one timer that
 * advances them, and holds their counters. Packets are control messages
 * only: the relayed streams never pass through here. What receivers and
 * routers ask for is read back as a Demand (src/supervisor/demand.ts); when
 * it changes, onDemandChange() asks the supervisor for a re-plan through
 * its one queue.
 */
import { ControlSocket } from "../../ffi/control.ts";
import type { Config } from "../config/schema.ts";
import type { SaEntry } from "../protocols/msdp.ts";
import { PROTOCOL_COUNTERS, type ProtocolCounterName } from "../stats/registry.ts";
import type { Demand } from "./demand.ts";
import { IGMP, ListenerSpeaker, MLD } from "./listener_speaker.ts";
import { MsdpSpeaker } from "./msdp_speaker.ts";
import { PimSpeaker } from "./pim_speaker.ts";
import type { InterfaceFacts } from "./plan.ts";
import type {
  ProtocolSocket,
  RoutingLogger,
  RoutingStatus,
  SpeakerChange,
  SpeakerDeps,
  UnicastSocket,
} from "./routing_types.ts";

export type {
  ListenerLinkState,
  ProtocolSocket,
  RoutingLogger,
  RoutingStatus,
  UnicastSocket,
} from "./routing_types.ts";

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

export class Routing {
  readonly counters = Object.fromEntries(PROTOCOL_COUNTERS.map((c) => [c.name, 0])) as Record<
    ProtocolCounterName,
    number
  >;
  #igmp: ListenerSpeaker;
  #mld: ListenerSpeaker;
  #pim: PimSpeaker;
  #msdp: MsdpSpeaker;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #runQueued = false;
  #demandKey = JSON.stringify([[], []]);
  #present = new Set<string>();
  #stopped = false;
  #now: () => number;

  constructor(private deps: RoutingDeps) {
    this.#now = deps.now ?? Date.now;
    const speaker: SpeakerDeps = {
      log: deps.log,
      onEvent: deps.onEvent,
      count: (c, n) => this.#count(c, n),
      now: this.#now,
      openSocket: deps.openSocket ??
        ((ifindex, family, proto, label) => ControlSocket.open(ifindex, family, proto, label)),
      soon: () => this.#soon(),
    };
    this.#igmp = new ListenerSpeaker(IGMP, { ...speaker, linkLocal: deps.linkLocal });
    this.#mld = new ListenerSpeaker(MLD, { ...speaker, linkLocal: deps.linkLocal });
    this.#pim = new PimSpeaker({
      ...speaker,
      advertised: deps.advertised,
      openUnicast: deps.openUnicast,
    });
    this.#msdp = new MsdpSpeaker({
      advertised: deps.advertised,
      count: (c, n) => this.#count(c, n),
      onEvent: (data) => deps.onEvent({ protocol: "msdp", ...data }),
      log: deps.log,
    });
  }

  #count(name: ProtocolCounterName, n = 1): void {
    this.counters[name] += n;
  }

  /**
   * Puts the routing sections of `config` in force on the interfaces that
   * exist (`facts`). Everything that can fail (sockets, listeners) is opened
   * by every speaker's prepare() before anything in force changes: a failure
   * throws and changes nothing.
   */
  async apply(config: Config, facts: ReadonlyMap<string, InterfaceFacts>): Promise<void> {
    if (this.#stopped) return;
    const now = this.#now();
    const changes: SpeakerChange[] = [];
    try {
      changes.push(this.#igmp.prepare(config, facts, now));
      changes.push(this.#mld.prepare(config, facts, now));
      changes.push(this.#pim.prepare(config, facts, now));
      changes.push(this.#msdp.prepare(config));
    } catch (err) {
      await Promise.all(changes.reverse().map((c) => c.abort()));
      throw err;
    }
    // ---- nothing below fails: put it in force ----
    await Promise.all(changes.map((c) => c.commit()));
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
    const counts = (ifname: string) => this.#pim.receiversCount(ifname);
    this.#igmp.present(igmp, now, counts);
    this.#mld.present(igmp, now, counts);
    return { igmp, pim: this.#pim.demand(now) };
  }

  /** Sends SAs to every established peer now (the relayed sources changed). */
  advertise(): void {
    this.#msdp.advertise();
  }

  status(): RoutingStatus {
    const now = this.#now();
    return {
      igmp: { interfaces: this.#igmp.status(now) },
      mld: { interfaces: this.#mld.status(now) },
      pim: this.#pim.status(now),
      msdp: this.#msdp.status(now),
      waiting: [
        ...this.#igmp.waiting(),
        ...this.#pim.waiting(),
        ...this.#mld.waiting(),
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
    // PIM first: its links say goodbye before any socket closes.
    await Promise.all([
      this.#pim.stop(),
      this.#igmp.stop(),
      this.#mld.stop(),
      this.#msdp.stop(),
    ]);
  }

  // ---- time -------------------------------------------------------------------

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

  /** Advances every speaker, sends what is due, notices demand changes, sets the next timer (always). */
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
    due = Math.min(due, this.#igmp.advance(now));
    due = Math.min(due, this.#mld.advance(now));
    due = Math.min(due, this.#pim.advance(now));
    this.#checkDemand();
    return due;
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
