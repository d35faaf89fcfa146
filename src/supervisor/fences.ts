/**
 * Fenced workers: the native memory of a worker that died or stopped making
 * progress is never freed under its thread. Fencing (ffi/arena.ts,
 * ffi/waiter.ts) makes the kernel release its sockets (the fd numbers stay
 * reserved) and its mappings zero pages; its waiter's memory is freed by
 * the stuck thread itself when it leaves native code. An arena whose owner
 * was inside an arena call at fence time is fenced on a later tick
 * (retry()). A thread that never leaves native code is listed by zombies(),
 * never freed.
 */
import { fenceArena } from "../../ffi/arena.ts";
import { Waiter } from "../../ffi/waiter.ts";
import type { WorkerHandle } from "./worker_handle.ts";

/** A fenced worker whose thread may still be inside native code. */
interface Fenced {
  id: number;
  waiterHandle: number;
  arenaHandle: number;
  arenaFenced: boolean;
  since: number;
}

export class Fences {
  #fenced: Fenced[] = [];

  constructor(readonly log: { warn(msg: string, fields?: Record<string, unknown>): void }) {}

  get pending(): boolean {
    return this.#fenced.length > 0;
  }

  /** Fences `h`'s waiter and arena (the arena later if its thread is inside an arena call). */
  fence(h: WorkerHandle): void {
    if (h.waiterHandle >= 0) Waiter.fenceHandle(h.waiterHandle);
    const f: Fenced = {
      id: h.id,
      waiterHandle: h.waiterHandle,
      arenaHandle: h.arenaHandle,
      arenaFenced: h.arenaHandle < 0,
      since: Date.now(),
    };
    this.#fenced.push(f);
    this.retry();
    this.log.warn(
      "worker fenced: its sockets are released, its memory kept until its thread leaves native code",
      { worker: h.id, arena_fenced: f.arenaFenced },
    );
  }

  /** Fences arenas left for later, and forgets workers fully released (waiter freed by its thread, arena fenced). */
  retry(): void {
    for (const f of this.#fenced) if (!f.arenaFenced) f.arenaFenced = fenceArena(f.arenaHandle);
    this.#fenced = this.#fenced.filter((f) =>
      !f.arenaFenced || (f.waiterHandle >= 0 && Waiter.stateOf(f.waiterHandle) === "held")
    );
  }

  /** Workers fenced whose thread is still inside native code, and for how long. */
  zombies(): { id: number; stuck_ms: number }[] {
    const now = Date.now();
    return this.#fenced
      .filter((f) => f.waiterHandle >= 0 && Waiter.stateOf(f.waiterHandle) === "held")
      .map((f) => ({ id: f.id, stuck_ms: now - f.since }));
  }
}
