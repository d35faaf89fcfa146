/**
 * A worker's wait point and TX kicker (io_uring, c/uring.c). The hot-path
 * methods pass only integers to native code.
 */
import { check } from "./errno.ts";
import { loadLibrary } from "./library.ts";
import type { McrSymbols } from "./symbols.ts";

export interface WaiterStats {
  kicks: number;
  kickErrors: number;
  lastErrno: number;
  pollErrors: number;
  /** Kicks retried because the send buffer was full (not loss). */
  kicksDeferred: number;
}

export class Waiter {
  readonly #lib: McrSymbols;
  readonly #out = new Int32Array(5);
  #closed = false;

  private constructor(readonly handle: number, lib: McrSymbols) {
    this.#lib = lib;
  }

  static open(entries = 256): Waiter {
    const lib = loadLibrary();
    const h = check(
      lib.mcr_waiter_open(entries),
      "mcr_waiter_open",
      "Cannot create the io_uring wait point",
    );
    return new Waiter(h, lib);
  }

  /** Wakes the waiter with this handle from any thread (the supervisor's control path). */
  static notifyHandle(handle: number): void {
    loadLibrary().mcr_waiter_notify(handle);
  }

  /**
   * Closes the waiter of a worker that may be stuck inside a call (any
   * thread): its polls are cancelled now, its memory is freed when the
   * stuck thread leaves native code (c/uring.c).
   */
  static fenceHandle(handle: number): void {
    loadLibrary().mcr_waiter_fence(handle);
  }

  /** "open", "held" (closed, but a thread is still inside a call: its memory is kept) or "freed". */
  static stateOf(handle: number): "open" | "held" | "freed" {
    const st = loadLibrary().mcr_waiter_state(handle);
    return st === 1 ? "open" : st === 2 ? "held" : "freed";
  }

  /** Fault injection: the next wait of this waiter sleeps `ms` inside native code first. */
  static stallHandle(handle: number, ms: number): void {
    loadLibrary().mcr_waiter_stall(handle, ms);
  }

  /** Process-wide: waiters freed, freed late by a thread leaving its call, freed with a thread inside (0). */
  static tally(): { freed: number; deferred: number; freedInUse: number } {
    const out = new Int32Array(3);
    loadLibrary().mcr_waiter_tally(out);
    return { freed: out[0], deferred: out[1], freedInUse: out[2] };
  }

  addFd(fd: number): void {
    check(
      this.#lib.mcr_waiter_add_fd(this.handle, fd),
      "mcr_waiter_add_fd",
      "Cannot watch a ring socket",
    );
  }

  removeFd(fd: number): void {
    this.#lib.mcr_waiter_remove_fd(this.handle, fd);
  }

  /** Blocks until an RX ring or the eventfd is ready, or timeoutMs passes; returns ready events. */
  wait(timeoutMs: number): number {
    return this.#lib.mcr_waiter_wait(this.handle, timeoutMs);
  }

  /**
   * Submits the queued kicks and sleeps up to `us` µs; arriving packets do
   * not wake it (the control eventfd does). Returns ready events.
   */
  nap(us: number): number {
    return this.#lib.mcr_waiter_nap(this.handle, us);
  }

  /** Queues a kick of a TX ring socket; sent by the next submit(). */
  queueKick(fd: number): number {
    return this.#lib.mcr_waiter_queue_kick(this.handle, fd);
  }

  /** Submits every queued kick with one io_uring_enter. */
  submit(): number {
    return this.#lib.mcr_waiter_submit(this.handle);
  }

  notify(): void {
    this.#lib.mcr_waiter_notify(this.handle);
  }

  /** Tallies since the last call. */
  stats(): WaiterStats {
    this.#lib.mcr_waiter_stats(this.handle, this.#out);
    return {
      kicks: this.#out[0],
      kickErrors: this.#out[1],
      lastErrno: this.#out[2],
      pollErrors: this.#out[3],
      kicksDeferred: this.#out[4],
    };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#lib.mcr_waiter_close(this.handle);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
