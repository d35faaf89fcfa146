/** Interface facts by name (c/ifinfo.c), as plain objects. */
import { loadLibrary } from "./library.ts";
import { FdFollower } from "./fd_follower.ts";

const IFF_UP = 0x1;
const IFF_RUNNING = 0x40;

export interface InterfaceInfo {
  name: string;
  ifindex: number;
  mtu: number;
  up: boolean;
  running: boolean;
  /** IPv4 address as an unsigned 32-bit number, 0 if none. */
  ipv4: number;
  /** Preferred IPv6 address (global, else link-local) as 16 bytes, null if none. */
  ipv6: Uint8Array | null;
  mac: Uint8Array;
  macText: string;
}

/** Looks an interface up in this process's network namespace; null when it does not exist. */
export function interfaceInfo(name: string): InterfaceInfo | null {
  const out = new Int32Array(16);
  const cname = new TextEncoder().encode(name + "\0");
  const rc = loadLibrary().mcr_if_info(cname, out);
  if (rc < 0 || out[10] !== 1) return null;
  const v6 = new Uint8Array(16);
  const has6 = loadLibrary().mcr_if_ipv6(cname, v6) > 0;
  const mac = new Uint8Array(6);
  for (let i = 0; i < 6; i++) mac[i] = out[4 + i];
  return {
    name,
    ifindex: out[0],
    mtu: out[1],
    up: (out[2] & IFF_UP) !== 0,
    running: (out[2] & IFF_RUNNING) !== 0,
    ipv4: out[3] >>> 0,
    ipv6: has6 ? v6 : null,
    mac,
    macText: [...mac].map((b) => b.toString(16).padStart(2, "0")).join(":"),
  };
}

/** The interface's own kernel counters (all frames, matching a rule or not). */
export interface KernelCounters {
  rx_packets: number;
  rx_dropped: number;
  tx_packets: number;
  tx_dropped: number;
}

/** The kernel's counters of an interface; null when they cannot be read (no such interface). */
export function interfaceCounters(name: string): KernelCounters | null {
  const out = new Float64Array(4);
  if (loadLibrary().mcr_if_stats(new TextEncoder().encode(name + "\0"), out) < 0) return null;
  return { rx_packets: out[0], rx_dropped: out[1], tx_packets: out[2], tx_dropped: out[3] };
}

/** A numeric sysctl by its dotted key, or null when it cannot be read. */
export function sysctlNumber(key: string): number | null {
  const v = Number(loadLibrary().mcr_sysctl_number(new TextEncoder().encode(key + "\0")));
  return v >= 0 ? v : null;
}

/** The interface's link-local IPv6 address (16 bytes), null when it has none (MLD speaks from it). */
export function linkLocalIpv6(name: string): Uint8Array | null {
  const out = new Uint8Array(16);
  return loadLibrary().mcr_if_link_local(new TextEncoder().encode(name + "\0"), out) > 0
    ? out
    : null;
}

/**
 * Link and address change notifications (rtnetlink). follow() waits for
 * them in a thread of its own (a nonblocking FFI call blocked in poll), so
 * an idle relay is woken only when an interface changes.
 */
export class InterfaceWatch {
  private constructor(readonly follower: FdFollower) {}

  static open(): InterfaceWatch {
    return new InterfaceWatch(
      FdFollower.adopt(
        loadLibrary().mcr_netlink_open(),
        "mcr_netlink_open",
        "Cannot watch interface changes",
      ),
    );
  }

  get fd(): number {
    return this.follower.fd;
  }

  /** Calls onChange once per burst of link/address events, until close(). onChange must not throw. */
  follow(onChange: () => void): void {
    this.follower.follow(() => {
      if (loadLibrary().mcr_netlink_drain(this.follower.fd) !== 0) onChange();
    });
  }

  /** Stops following; the fds are closed only after the waiting thread has returned. */
  close(): Promise<void> {
    return this.follower.close();
  }
}
