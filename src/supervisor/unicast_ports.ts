/**
 * The UDP ports of unicast inputs: an input with `address` is read from the
 * RX ring like a group, and the relay also binds its port with a socket
 * that drops everything (ffi/routed.ts PortAbsorber), so that the host does
 * not answer the stream with ICMP port unreachable. Held as a diff with an
 * undo, like Memberships.join: a failed apply closes what it opened.
 */
import { PortAbsorber } from "../../ffi/routed.ts";
import type { Config } from "../config/schema.ts";
import { ip } from "../net/address.ts";
import { type InterfaceFacts, unicastPorts } from "./plan.ts";

export class UnicastPorts {
  /** Ports held, by `${interface}|${address}|${port}`. */
  #held = new Map<string, { absorber: PortAbsorber; ifindex: number }>();

  /**
   * Holds the ports `config`'s unicast inputs need on the interfaces that
   * exist; returns an undo that closes the ones this call opened.
   */
  hold(config: Config, facts: ReadonlyMap<string, InterfaceFacts>): () => void {
    const opened: string[] = [];
    try {
      for (const u of unicastPorts(config)) {
        const f = facts.get(u.ifname);
        if (!f) continue;
        const key = `${u.ifname}|${u.address}|${u.port}`;
        const held = this.#held.get(key);
        if (held && held.ifindex === f.ifindex) continue;
        const absorber = PortAbsorber.open(
          u.family,
          ip(u.address).bytes,
          u.port,
          f.ifindex,
          `${u.address} ${u.port}`,
        );
        held?.absorber.close();
        this.#held.set(key, { absorber, ifindex: f.ifindex });
        opened.push(key);
      }
    } catch (err) {
      this.#close(opened);
      throw err;
    }
    return () => this.#close(opened);
  }

  #close(keys: readonly string[]): void {
    for (const key of keys) {
      this.#held.get(key)?.absorber.close();
      this.#held.delete(key);
    }
  }

  /** Closes the ports `config` no longer has. */
  release(config: Config): void {
    const ports = new Set(unicastPorts(config).map((u) => `${u.ifname}|${u.address}|${u.port}`));
    this.#close([...this.#held.keys()].filter((k) => !ports.has(k)));
  }

  /** The ports held, for GET /api/v1/resources. */
  keys(): string[] {
    return [...this.#held.keys()].sort();
  }

  closeAll(): void {
    this.#close([...this.#held.keys()]);
  }
}
