/** IGMP group membership through a helper socket (c/membership.c). */
import { check, NativeError } from "./errno.ts";
import { loadLibrary } from "./library.ts";

function dotted(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

export class MembershipSocket {
  #closed = false;
  private constructor(readonly fd: number) {}

  static open(): MembershipSocket {
    const fd = check(loadLibrary().mcr_membership_open(), "mcr_membership_open", "Cannot open the membership socket");
    return new MembershipSocket(fd);
  }

  /** Joins group (u32) on ifindex; source != 0 makes it source-specific. */
  join(ifindex: number, group: number, source = 0): void {
    this.#change(ifindex, group, source, true);
  }

  leave(ifindex: number, group: number, source = 0): void {
    this.#change(ifindex, group, source, false);
  }

  #change(ifindex: number, group: number, source: number, join: boolean): void {
    const rc = loadLibrary().mcr_membership_change(this.fd, ifindex, group >>> 0, source >>> 0, join ? 1 : 0);
    const action = `Cannot ${join ? "join" : "leave"} group "${dotted(group >>> 0)}" on interface index ${ifindex}`;
    if (rc === -105) {
      throw new NativeError(
        "mcr_membership_change",
        105,
        `${action}: the per-socket membership limit is reached (raise net.ipv4.igmp_max_memberships)`,
        { ifindex, group: dotted(group >>> 0) },
      );
    }
    check(rc, "mcr_membership_change", action, { ifindex, group: dotted(group >>> 0) });
  }

  /** Closes the socket: the kernel leaves every group it joined. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    loadLibrary().mcr_membership_close(this.fd);
  }
}
