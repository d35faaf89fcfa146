/**
 * mcr's PIM-SM side: a socket per interface of the pim section and one
 * PimRouter over them (src/protocols/pim_state.ts: Hellos, neighbours, the
 * DR, routes learned from Join/Prune), and the Null-Registers that tell a
 * static RP about the sources mcr relays (src/protocols/pim_register.ts,
 * sent on one unicast socket; Register-Stops quiet them). It hands received
 * messages to those state machines, sends what they want sent, and says
 * which routes are joined. routing.ts composes it with the other speakers.
 */
import { UnicastSender } from "../../ffi/control.ts";
import type { Config } from "../config/schema.ts";
import { ip } from "../net/address.ts";
import { buildIpv4, parseIpv4 } from "../protocols/ip_packet.ts";
import type { SaEntry } from "../protocols/msdp.ts";
import {
  ALL_PIM_ROUTERS,
  buildHello,
  buildNullRegister,
  parsePim,
  PIM_PROTOCOL,
  PimType,
} from "../protocols/pim.ts";
import { RegisterSender } from "../protocols/pim_register.ts";
import { PimRouter } from "../protocols/pim_state.ts";
import type { Demand } from "./demand.ts";
import type { InterfaceFacts } from "./plan.ts";
import {
  guard,
  type Link,
  type LinkWanted,
  type ProtocolSocket,
  reusable,
  type RoutingStatus,
  sendOn,
  type SpeakerChange,
  type SpeakerDeps,
  type UnicastSocket,
  usableIpv4,
  type Waiting,
} from "./routing_types.ts";

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

export interface PimSpeakerDeps extends SpeakerDeps {
  /** The (source, group) pairs mcr relays now: the streams to register with their RP. */
  advertised: () => SaEntry[];
  openUnicast?: () => UnicastSocket;
}

export class PimSpeaker {
  #links = new Map<string, Link>();
  #pim: PimRouter | null = null;
  #register = new RegisterSender();
  #unicast: UnicastSocket | null = null;
  #registerCheckedAt = -Infinity;
  #pimKey = "";
  #rps: { address: string; groups: string }[] = [];
  #waiting: Waiting[] = [];
  #stopped = false;
  #openUnicast: () => UnicastSocket;

  constructor(private deps: PimSpeakerDeps) {
    this.#openUnicast = deps.openUnicast ?? (() => UnicastSender.open(PIM_PROTOCOL));
  }

  /**
   * Opens the sockets `config` needs on the interfaces that exist (`facts`),
   * and the unicast socket of the Null-Registers; changes nothing yet.
   * Throws, having closed what it opened, if a socket cannot be had.
   */
  prepare(config: Config, facts: ReadonlyMap<string, InterfaceFacts>, now: number): SpeakerChange {
    const waiting: Waiting[] = [];
    const wanted = usableIpv4(config.pim?.interfaces, facts, "pim", waiting);
    const sockets = new Map<string, ProtocolSocket>();
    let newUnicast: UnicastSocket | null = null;
    const abort = () => {
      newUnicast?.close();
      return Promise.all([...sockets.values()].map((s) => s.close())).then(() => {});
    };
    try {
      for (const [name, w] of wanted) {
        if (reusable(this.#links, name, w)) continue;
        sockets.set(name, this.deps.openSocket(w.ifindex, 4, PIM_PROTOCOL, `pim on ${name}`));
      }
      if (config.pim && !this.#unicast) newUnicast = this.#openUnicast();
    } catch (err) {
      abort().catch(() => {});
      throw err;
    }
    return {
      abort,
      commit: () => this.#commit(config, wanted, sockets, newUnicast, waiting, now),
    };
  }

  /** One router over the links; new options apply to it, neighbours and routes kept. */
  async #commit(
    config: Config,
    wanted: Map<string, LinkWanted>,
    sockets: Map<string, ProtocolSocket>,
    newUnicast: UnicastSocket | null,
    waiting: Waiting[],
    now: number,
  ): Promise<void> {
    this.#waiting = waiting;
    const closing: Promise<void>[] = [];
    const pimKey = JSON.stringify(config.pim ? { ...config.pim, interfaces: [] } : null);
    if (pimKey !== this.#pimKey) {
      this.#pimKey = pimKey;
      const generationId = crypto.getRandomValues(new Uint32Array(1))[0];
      if (!config.pim && this.#pim) {
        this.#pim.shutdown();
        this.#flush();
        this.#pim = null;
      } else if (config.pim && this.#pim) {
        this.#pim.reconfigure(pimOptions(config.pim, generationId));
      } else if (config.pim) {
        this.#pim = new PimRouter(
          pimOptions(config.pim, generationId),
          (c, n) => this.deps.count(c, n),
        );
      }
    }
    // Links left say goodbye (Hello holdtime 0) before their sockets close.
    this.#pim?.setInterfaces(
      [...wanted].map(([name, w]) => ({ name, address: w.address })),
      now,
    );
    this.#flush();
    for (const [name, link] of this.#links) {
      const w = wanted.get(name);
      if (w && reusable(this.#links, name, w)) continue;
      this.#links.delete(name);
      closing.push(link.socket.close());
    }
    for (const [name, w] of wanted) {
      const socket = sockets.get(name);
      if (!socket) continue;
      this.#links.set(name, { ...w, socket });
      socket.follow(
        (p) => guard(this.deps.log, "PIM", () => this.#onPacket(name, p)),
        (n) => this.deps.count("pim_overrun", n),
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
    await Promise.all(closing);
  }

  /** Interfaces of the section that cannot run yet. */
  waiting(): Waiting[] {
    return this.#waiting;
  }

  /**
   * Whether local receivers on `ifname` count: PIM does not run there, or
   * mcr is its DR (RFC 7761 4.1.6 local_receiver_include).
   */
  receiversCount(ifname: string): boolean {
    const pimAddress = this.#pim?.address(ifname);
    return pimAddress === undefined || this.#pim!.dr(ifname) === pimAddress;
  }

  /** The routes joined now. */
  demand(now: number): Demand["pim"] {
    return this.#pim?.routes(now).map((r) => ({
      interface: r.interface,
      source: r.source,
      group: r.group,
      except: r.rpt_pruned,
    })) ?? [];
  }

  status(now: number): RoutingStatus["pim"] {
    return {
      interfaces: (this.#pim?.interfaces() ?? []).map((i) => ({
        ...i,
        is_dr: i.dr === i.address,
      })),
      neighbors: this.#pim?.neighbors(now) ?? [],
      routes: this.#pim?.routes(now) ?? [],
      rp: this.#rps,
      registers: this.#register.states(),
    };
  }

  /** Advances the router and the registers, sends what is due; returns when to be called next. */
  advance(now: number): number {
    if (!this.#pim) return Infinity;
    const before = this.#pim.neighbors(now).map((n) => `${n.interface}|${n.address}`);
    this.#pim.tick(now);
    const after = new Set(this.#pim.neighbors(now).map((n) => `${n.interface}|${n.address}`));
    for (const gone of before.filter((k) => !after.has(k))) {
      const [iface, neighbor] = gone.split("|");
      this.deps.log.info(`PIM neighbour ${neighbor} on ${iface} timed out`, { interface: iface });
      this.deps.onEvent({ protocol: "pim", interface: iface, neighbor, state: "down" });
    }
    this.#flush();
    return Math.min(this.#pim.nextDue(now), this.#registers(now));
  }

  /** Says goodbye on every link (Hello holdtime 0), then closes the sockets. */
  stop(): Promise<void> {
    this.#stopped = true;
    if (this.#pim) {
      this.#pim.shutdown();
      this.#flush();
    }
    const closing = [...this.#links.values()].map((l) => l.socket.close());
    this.#unicast?.close();
    this.#unicast = null;
    this.#links.clear();
    return Promise.all(closing).then(() => {});
  }

  #onPacket(name: string, packet: Uint8Array): void {
    if (!this.#links.has(name) || !this.#pim || this.#stopped) return;
    const p = parseIpv4(packet);
    const m = p.ok ? parsePim(p.value.payload) : p;
    if (!p.ok || !m.ok) {
      this.deps.count("pim_invalid");
      this.deps.log.debug?.("invalid PIM packet dropped", {
        interface: name,
        reason: m.ok ? "" : m.reason,
      });
      return;
    }
    this.deps.count("pim_received");
    const now = this.deps.now();
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
        this.deps.count("pim_register_stops");
      } else this.deps.count("pim_ignored");
    } else {
      this.deps.count("pim_ignored");
    }
    this.deps.soon();
  }

  /**
   * Null-Registers for the streams mcr relays whose group has a static RP
   * that is not this router: the targets are looked at once a second at most.
   */
  #registers(now: number): number {
    if (!this.#pim || !this.#unicast) return Infinity;
    if (now - this.#registerCheckedAt >= 1000) {
      this.#registerCheckedAt = now;
      const mine = new Set([...this.#links.values()].map((l) => l.address));
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
        this.deps.count("pim_registers_sent");
      } catch (err) {
        this.deps.log.warn("PIM Register not sent", { rp: r.rp, error: (err as Error).message });
      }
    }
    return Math.min(this.#register.nextDue(now), now + 1000);
  }

  /** Sends the Hellos the router wants sent. */
  #flush(): void {
    if (!this.#pim) return;
    for (const h of this.#pim.outbox.splice(0)) {
      const link = this.#links.get(h.ifname);
      if (!link) continue;
      const hello = buildHello(
        h.holdtimeS,
        this.#pim.options.drPriority,
        this.#pim.options.generationId,
      );
      sendOn(
        this.deps,
        link,
        buildIpv4(link.address, ALL_PIM_ROUTERS, PIM_PROTOCOL, 1, hello, false),
        ALL_PIM_ROUTERS,
        `PIM Hello on ${h.ifname}`,
        "pim_sent",
      );
    }
  }
}
