/**
 * Routing-protocol sockets (c/control.c): one per interface and protocol,
 * reading and writing whole IP packets. A socket's reader waits in a thread
 * of its own (ffi/fd_follower.ts) and hands each packet to the caller.
 */
import { check } from "./errno.ts";
import { loadLibrary } from "./library.ts";
import { FdFollower } from "./fd_follower.ts";

/** Largest control packet read (PIM, IGMP and MLD messages are far smaller). */
export const CONTROL_MTU = 9216;

export class ControlSocket {
  #buf = new Uint8Array(CONTROL_MTU);
  private constructor(
    readonly follower: FdFollower,
    readonly ifindex: number,
    readonly family: 4 | 6,
  ) {}

  /**
   * IPv4 protocol `proto` (2 IGMP, 103 PIM), or for family 6 the MLD
   * messages. `allmulti`: all multicast of the link (a router hears every
   * report); false: what the host receives anyway (a listener for queries).
   */
  static open(
    ifindex: number,
    family: 4 | 6,
    proto: number,
    label: string,
    allmulti = true,
  ): ControlSocket {
    const fd = loadLibrary().mcr_ctl_open(ifindex, family, proto, allmulti ? 1 : 0);
    return new ControlSocket(
      FdFollower.adopt(fd, "mcr_ctl_open", `Cannot open a protocol ${proto} socket on ${label}`, {
        ifindex,
      }),
      ifindex,
      family,
    );
  }

  /**
   * Calls onPacket(packet, cut) for every packet until close(). The packet
   * view is valid only during the call. onPacket must not throw. After each
   * burst, onDrops(n) is told how many packets the kernel dropped since the
   * last burst because the socket's buffer was full (only when n > 0).
   */
  follow(
    onPacket: (packet: Uint8Array, cut: boolean) => void,
    onDrops: (n: number) => void = () => {},
  ): void {
    const lib = loadLibrary();
    this.follower.follow(() => {
      // At most 256 packets per wake-up: a flood cannot starve the rest of the process.
      for (let i = 0; i < 256 && !this.follower.closed; i++) {
        const n = lib.mcr_ctl_recv(this.follower.fd, this.#buf, this.#buf.length);
        if (n < 0) break;
        onPacket(this.#buf.subarray(0, Math.min(n, this.#buf.length)), n > this.#buf.length);
      }
      if (this.follower.closed) return;
      const dropped = lib.mcr_ctl_drops(this.follower.fd);
      if (dropped > 0) onDrops(dropped);
    });
  }

  /** Sends one IP packet to the link address `mac`. */
  send(packet: Uint8Array, mac: Uint8Array, label: string): void {
    check(
      loadLibrary().mcr_ctl_send(
        this.follower.fd,
        this.ifindex,
        this.family,
        packet,
        packet.length,
        mac,
      ),
      "mcr_ctl_send",
      `Cannot send ${label}`,
      { ifindex: this.ifindex },
    );
  }

  /** Stops reading; the fds are closed only after the waiting thread has returned. */
  close(): Promise<void> {
    return this.follower.close();
  }
}

/** A send-only raw IPv4 socket for unicast protocol messages (PIM Registers to an RP). */
export class UnicastSender {
  #closed = false;
  private constructor(readonly fd: number) {}

  static open(proto: number): UnicastSender {
    return new UnicastSender(
      check(
        loadLibrary().mcr_raw_open(proto),
        "mcr_raw_open",
        `Cannot open a raw protocol ${proto} socket`,
      ),
    );
  }

  /** Sends `message` to `dst` (4 address bytes); the kernel writes the IP header. */
  send(dst: Uint8Array, message: Uint8Array, label: string): void {
    check(
      loadLibrary().mcr_raw_send(this.fd, dst, message, message.length),
      "mcr_raw_send",
      `Cannot send ${label}`,
    );
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    loadLibrary().mcr_socket_close(this.fd);
  }
}
