/**
 * Waiting for a descriptor to become readable in a thread of its own (a
 * nonblocking FFI call blocked in poll, c/netlink.c mcr_fd_wait), so an idle
 * relay is woken only when there is something to read. One owner of the
 * descriptor and its wake eventfd: close() wakes the waiting thread and
 * closes both fds only after that thread has returned (no fd is closed, or
 * reused, under a thread still polling it).
 */
import { check } from "./errno.ts";
import { loadLibrary } from "./library.ts";

export class FdFollower {
  #closed = false;
  #loop: Promise<void> | null = null;
  private constructor(readonly fd: number, readonly wakeFd: number) {}

  /** Takes `fd` (>= 0, or -errno from the call that opened it) and adds its wake fd; closes fd if that fails. */
  static adopt(
    fd: number,
    op: string,
    what: string,
    context: Record<string, unknown> = {},
  ): FdFollower {
    const lib = loadLibrary();
    check(fd, op, what, context);
    const wake = lib.mcr_wake_open();
    if (wake < 0) lib.mcr_socket_close(fd);
    return new FdFollower(fd, check(wake, "mcr_wake_open", what, context));
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Calls onReadable() whenever fd is readable, until close() (after an error
   * of the wait, once a second at most: never a spin). onReadable reads
   * without blocking and must not throw.
   */
  follow(onReadable: () => void): void {
    if (this.#loop !== null || this.#closed) return;
    const lib = loadLibrary();
    this.#loop = (async () => {
      while (!this.#closed) {
        const r = await lib.mcr_fd_wait(this.fd, this.wakeFd, 60_000);
        if (this.#closed) break;
        if (r < 0) await new Promise((res) => setTimeout(res, 1000));
        if (r !== 0 && r !== 2) onReadable();
      }
    })();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const lib = loadLibrary();
    lib.mcr_wake(this.wakeFd);
    await this.#loop;
    lib.mcr_socket_close(this.fd);
    lib.mcr_socket_close(this.wakeFd);
  }
}
