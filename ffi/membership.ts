/** Group membership (IGMP for IPv4, MLD for IPv6) through a helper socket (c/membership.c). */
import { check, NativeError } from "./errno.ts";
import { loadLibrary } from "./library.ts";

/** An address as the native calls take it: family and bytes in network order. */
export interface NativeAddress {
  family: 4 | 6;
  bytes: Uint8Array;
}

export class MembershipSocket {
  #closed = false;
  private constructor(readonly fd: number, readonly family: 4 | 6) {}

  /** One socket holds memberships of one family (IGMP or MLD). */
  static open(family: 4 | 6): MembershipSocket {
    const fd = check(
      loadLibrary().mcr_membership_open(family),
      "mcr_membership_open",
      `Cannot open the IPv${family} membership socket`,
    );
    return new MembershipSocket(fd, family);
  }

  /** Joins group on ifindex; with a source, source-specifically (IGMPv3 / MLDv2 INCLUDE). */
  join(ifindex: number, group: NativeAddress, source: NativeAddress | null, label: string): void {
    this.#change(ifindex, group, source, true, label);
  }

  leave(ifindex: number, group: NativeAddress, source: NativeAddress | null, label: string): void {
    this.#change(ifindex, group, source, false, label);
  }

  #change(
    ifindex: number,
    group: NativeAddress,
    source: NativeAddress | null,
    join: boolean,
    label: string,
  ): void {
    const rc = loadLibrary().mcr_membership_change(
      this.fd,
      ifindex,
      this.family,
      group.bytes,
      source?.bytes ?? new Uint8Array(16),
      source ? 1 : 0,
      join ? 1 : 0,
    );
    const action = `Cannot ${join ? "join" : "leave"} group ${label} on interface index ${ifindex}`;
    if (rc === -105) {
      const sysctl = this.family === 4 ? "net.ipv4.igmp_max_memberships" : "net.core.optmem_max";
      throw new NativeError(
        "mcr_membership_change",
        105,
        `${action}: the per-socket membership limit is reached (raise ${sysctl})`,
        { ifindex, group: label },
      );
    }
    check(rc, "mcr_membership_change", action, { ifindex, group: label });
  }

  /** Closes the socket: the kernel leaves every group it joined. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    loadLibrary().mcr_socket_close(this.fd);
  }
}
