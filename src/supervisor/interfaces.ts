/**
 * Interfaces as the relay sees them: looked up by name (absent ones are not
 * an error: rules that need them wait), compared between two readings to
 * tell what changed, and described for the API.
 */
import { interfaceCounters, interfaceInfo } from "../../ffi/iface.ts";
import { formatIp, fromWords } from "../net/address.ts";
import type { InterfaceState } from "./control.ts";
import type { InterfaceFacts } from "./plan.ts";

/** An interface's IPv4 address (the u32 InterfaceFacts and interfaceInfo carry) as text; null for 0 (none). */
export function ipv4Text(word: number): string | null {
  return word === 0 ? null : formatIp(fromWords(4, [word]));
}

/** Looks every interface up by name; absent ones are missing from the map. */
export function resolveInterfaces(names: Iterable<string>): Map<string, InterfaceFacts> {
  const facts = new Map<string, InterfaceFacts>();
  for (const name of new Set(names)) {
    const info = interfaceInfo(name);
    if (info) {
      facts.set(name, {
        name,
        ifindex: info.ifindex,
        mtu: info.mtu,
        ipv4: info.ipv4,
        ipv6: info.ipv6 ? [...info.ipv6] : null,
        mac: [...info.mac],
      });
    }
  }
  return facts;
}

/** Everything a plan depends on, as one comparable string ("absent" for a missing interface). */
function factsKey(f: InterfaceFacts | undefined): string {
  return f
    ? `${f.ifindex}|${f.ipv4}|${f.ipv6?.join(".") ?? "-"}|${f.mtu}|${f.mac.join(":")}`
    : "absent";
}

/** What happened to an interface between two readings, or null if nothing a plan depends on. */
export function interfaceChange(
  before: InterfaceFacts | undefined,
  after: InterfaceFacts | undefined,
): string | null {
  if (factsKey(before) === factsKey(after)) return null;
  if (!before) return "appeared";
  if (!after) return "disappeared";
  if (before.ifindex !== after.ifindex) return "was re-created";
  if (before.mtu !== after.mtu) return `changed MTU ${before.mtu} -> ${after.mtu}`;
  // Exactly what changed: an IPv6 address leaving with the link (down) is not a new address.
  const v6 = (f: InterfaceFacts) =>
    f.ipv6 ? formatIp({ family: 6, bytes: Uint8Array.from(f.ipv6) }) : "none";
  const parts: string[] = [];
  if (before.ipv4 !== after.ipv4) {
    parts.push(
      `IPv4 address ${ipv4Text(before.ipv4) ?? "none"} -> ${ipv4Text(after.ipv4) ?? "none"}`,
    );
  }
  if (v6(before) !== v6(after)) parts.push(`IPv6 address ${v6(before)} -> ${v6(after)}`);
  const mac = (f: InterfaceFacts) => f.mac.map((b) => b.toString(16).padStart(2, "0")).join(":");
  if (mac(before) !== mac(after)) parts.push(`MAC ${mac(before)} -> ${mac(after)}`);
  return `changed ${parts.join(", ")}`;
}

/** The API's view of one interface: presence, addresses, roles, events and the kernel's own counters. */
export function describeInterface(
  name: string,
  roles: ("input" | "output")[],
  events: number,
): InterfaceState {
  const info = interfaceInfo(name);
  const kernel = (info ? interfaceCounters(name) : null) ??
    { rx_packets: 0, rx_dropped: 0, tx_packets: 0, tx_dropped: 0 };
  if (!info) {
    return {
      name,
      ifindex: 0,
      up: false,
      present: false,
      mtu: 0,
      mac: "",
      ipv4: null,
      ipv6: null,
      roles,
      events,
      ...kernel,
    };
  }
  return {
    name,
    ifindex: info.ifindex,
    up: info.up,
    present: true,
    mtu: info.mtu,
    mac: info.macText,
    ipv4: ipv4Text(info.ipv4),
    ipv6: info.ipv6 ? formatIp({ family: 6, bytes: info.ipv6 }) : null,
    roles,
    events,
    ...kernel,
  };
}

/** How long after a link went down or up its address changes are taken as following it (IPv6 DAD). */
const LINK_SETTLE_MS = 10_000;

/** What the tracker reports to. */
export interface TrackerDeps {
  log: {
    warn(msg: string, fields?: Record<string, unknown>): void;
    info?(msg: string, fields?: Record<string, unknown>): void;
  };
  onEvent: (data: Record<string, unknown>) => void;
}

/**
 * The interfaces the configuration names, followed between plans: the facts
 * the plan in force was built with, whether each link was up at the last
 * reading (a link going down or up is an event, not a re-plan), and how
 * many events each had.
 */
export class InterfaceTracker {
  /** Interfaces as last planned with (absent ones are missing). */
  #facts = new Map<string, InterfaceFacts>();
  #events = new Map<string, number>();
  #linkUp = new Map<string, boolean>();
  /** When each link last went down or up (ms): addresses follow a link for a few seconds. */
  #linkMovedAt = new Map<string, number>();

  constructor(readonly deps: TrackerDeps) {}

  get facts(): ReadonlyMap<string, InterfaceFacts> {
    return this.#facts;
  }

  /** The facts a plan was just put in force with. */
  planned(facts: Map<string, InterfaceFacts>): void {
    this.#facts = facts;
    for (const name of facts.keys()) {
      if (!this.#linkUp.has(name)) this.#linkUp.set(name, interfaceInfo(name)?.up ?? false);
    }
  }

  #count(name: string): void {
    this.#events.set(name, (this.#events.get(name) ?? 0) + 1);
  }

  /**
   * Reads `names` now: links that went down or up are logged and sent as
   * events; an interface that appeared, disappeared, was re-created or
   * changed what a plan depends on too, and then the answer is true (a
   * re-plan is needed). `replanQueued`: one is already waiting (its events
   * were counted when it was asked for).
   */
  refresh(names: ReadonlySet<string>, replanQueued: boolean): boolean {
    const now = resolveInterfaces(names);
    let changed = false;
    for (const name of names) {
      // Link down / up: counted and logged; the plan does not depend on it.
      const up = now.has(name) ? interfaceInfo(name)?.up ?? false : false;
      const wasUp = this.#linkUp.get(name);
      this.#linkUp.set(name, up);
      if (wasUp !== undefined && wasUp !== up && now.has(name) && this.#facts.has(name)) {
        this.#count(name);
        this.#linkMovedAt.set(name, Date.now());
        this.deps.log.warn(`interface "${name}" went ${up ? "up" : "down"}`, { interface: name });
        this.deps.onEvent({ interface: name, event: up ? "up" : "down" });
      }
      const what = interfaceChange(this.#facts.get(name), now.get(name));
      if (what === null) continue;
      changed = true;
      if (!replanQueued) this.#count(name);
      // Addresses that leave with a link going down (IPv6) and come back after it went up
      // follow the link: told, not warned about (the link's own down/up is the warning).
      const movedAt = this.#linkMovedAt.get(name) ?? -Infinity;
      const followsLink = what.startsWith("changed ") &&
        (!up || Date.now() - movedAt < LINK_SETTLE_MS);
      const say = followsLink && this.deps.log.info ? this.deps.log.info : this.deps.log.warn;
      say.call(
        this.deps.log,
        `interface "${name}" ${what}${followsLink ? " (with its link)" : ""}`,
        {
          interface: name,
          ifindex: now.get(name)?.ifindex ?? 0,
        },
      );
      this.deps.onEvent({ interface: name, event: what });
    }
    return changed;
  }

  /** The API's view of `names` with their roles. */
  describe(inputs: readonly string[], outputs: readonly string[]): InterfaceState[] {
    const ins = new Set(inputs);
    const outs = new Set(outputs);
    return [...new Set([...inputs, ...outputs])].map((name) => {
      const roles: ("input" | "output")[] = [];
      if (ins.has(name)) roles.push("input");
      if (outs.has(name)) roles.push("output");
      return describeInterface(name, roles, this.#events.get(name) ?? 0);
    });
  }
}
