/**
 * Standby workers: for each worker id, a thread started ahead of need, its
 * modules compiled, the native library loaded and its waiter open, waiting
 * (idle: no timer, no wake-up) for the worker it stands for to fail. A
 * restart then takes the standby instead of starting a thread, which spends
 * 0.5-0.7 s compiling the data path (bench/recovery_bench.ts), and a new
 * standby is prepared behind it. A standby holds no ring; stopped, it frees
 * its own waiter from its own thread, like any worker.
 */
import { WorkerHandle } from "./worker_handle.ts";

/**
 * Workers 0..MAX_STANDBYS-1 have a standby (each costs about 20 MiB, an isolate
 * with the data path compiled): a relay of 64 workers does not double its
 * memory; its other workers are replaced by a thread started then.
 */
export const MAX_STANDBYS = 4;

/** How long a stopping standby is waited for before its thread is terminated. */
const STOP_WAIT_MS = 2000;

export class Standbys {
  #byId = new Map<number, WorkerHandle>();

  /** `spawn` starts a handle's thread as a standby (worker_pool.ts); disabled: none is prepared. */
  constructor(private spawn: (h: WorkerHandle) => void, private enabled = true) {}

  /** Prepares a standby for worker `id` (whose current thread has had `restarts` restarts). */
  prepare(id: number, restarts: number): void {
    if (!this.enabled || id >= MAX_STANDBYS || this.#byId.has(id)) return;
    const h = new WorkerHandle(id, restarts + 1);
    h.standby = true;
    this.#byId.set(id, h);
    this.spawn(h);
  }

  /** The standby of `id`, out of the set, if its thread runs (it may still be loading). */
  take(id: number): WorkerHandle | null {
    const h = this.#byId.get(id);
    this.#byId.delete(id);
    return h !== undefined && h.alive ? h : null;
  }

  /** Stops the standbys of `ids` (all when absent); resolves once they stopped or were terminated. */
  async stop(ids?: readonly number[]): Promise<void> {
    const going = [...this.#byId.entries()].filter(([id]) => ids === undefined || ids.includes(id));
    for (const [id, h] of going) {
      this.#byId.delete(id);
      h.worker?.postMessage({ type: "stop" });
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<void>((r) => timer = setTimeout(r, STOP_WAIT_MS));
    await Promise.race([Promise.all(going.map(([, h]) => h.stopped)), timeout]);
    clearTimeout(timer);
    for (const [, h] of going) {
      // A standby never entered the data path's native waits: terminating it frees nothing
      // under it (its waiter is freed by its own thread on stop, or leaks if it never answers).
      h.alive = false;
      h.worker?.terminate();
    }
  }

  /** How many are prepared (for introspection and tests). */
  get size(): number {
    return this.#byId.size;
  }
}
