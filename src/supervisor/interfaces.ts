/**
 * Interfaces as the relay sees them: looked up by name (absent ones are not
 * an error: rules that need them wait), compared between two readings to
 * tell what changed, and described for the API.
 */
import { interfaceInfo } from "../../ffi/iface.ts";
import { formatIp, fromWords } from "../net/address.ts";
import type { InterfaceState } from "./control.ts";
import type { InterfaceFacts } from "./plan.ts";

/** Looks every interface up by name; absent ones are missing from the map. */
/** An interface's IPv4 address (the u32 InterfaceFacts and interfaceInfo carry) as text; null for 0 (none). */
export function ipv4Text(word: number): string | null {
  return word === 0 ? null : formatIp(fromWords(4, [word]));
}

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
  return "changed address or MAC";
}

/** Reads /sys/class/net/NAME/statistics/COUNTER (0 if unreadable). */
function readInterfaceCounter(name: string, counter: string): number {
  try {
    return Number(Deno.readTextFileSync(`/sys/class/net/${name}/statistics/${counter}`).trim()) ||
      0;
  } catch {
    return 0;
  }
}

/** The API's view of one interface: presence, addresses, roles, events and the kernel's own counters. */
export function describeInterface(
  name: string,
  roles: ("input" | "output")[],
  events: number,
): InterfaceState {
  const info = interfaceInfo(name);
  const kernel = { rx_packets: 0, rx_dropped: 0, tx_packets: 0, tx_dropped: 0 };
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
  for (const k of Object.keys(kernel) as (keyof typeof kernel)[]) {
    kernel[k] = readInterfaceCounter(name, k);
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
