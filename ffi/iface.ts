/** Interface facts by name (c/ifinfo.c), as plain objects. */
import { check } from "./errno.ts";
import { loadLibrary } from "./library.ts";

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

/**
 * Link and address change notifications (rtnetlink), read without blocking:
 * changed() says whether any arrived since the last call.
 */
export class InterfaceWatch {
  #closed = false;
  private constructor(readonly fd: number) {}

  static open(): InterfaceWatch {
    return new InterfaceWatch(check(loadLibrary().mcr_netlink_open(), "mcr_netlink_open", "Cannot watch interface changes"));
  }

  changed(): boolean {
    return !this.#closed && loadLibrary().mcr_netlink_drain(this.fd) !== 0;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    loadLibrary().mcr_socket_close(this.fd);
  }
}
