/**
 * The forwarding workers: spawn, plan delivery, watchdog, restart.
 *
 * Ownership of native memory: a worker's arena and waiter are released by
 * the worker itself when it stops. A worker that throws or stops making
 * progress is never freed under its feet: it is FENCED (ffi/arena.ts,
 * ffi/waiter.ts): its sockets are released by the kernel (they leave the
 * fanout group, the fd numbers stay reserved), its mappings become zero
 * pages, its waiter's memory is freed by the stuck thread itself when it
 * leaves native code; then a replacement is spawned with the plan in force.
 * A thread that never leaves native code is reported (zombies()), never freed.
 *
 * Every plan delivery gets a fresh generation number, so a restart during
 * an apply can never make two deliveries wait on the same entry.
 */
import { fenceArena } from "../../ffi/arena.ts";
import { Waiter } from "../../ffi/waiter.ts";
import {
  COMMAND_FAULT_HANG,
  COMMAND_FAULT_THROW,
  COMMAND_RECONFIGURE,
  COMMAND_STOP,
  CONTROL_COMMAND,
  CONTROL_FAULT,
  CONTROL_PHASE,
  FAULT_FAIL_APPLY,
  CONTROL_REQUESTED_GEN,
  CONTROL_WORDS,
  type FromWorker,
  type HeldRing,
  PHASE_APPLYING,
  type ToWorker,
} from "../dataplane/channel.ts";
import type { WorkerPlan } from "../dataplane/plan_types.ts";
import { MAX_OUTPUT_SLOTS, MAX_RULE_SLOTS, OUTPUT_SLOTS, RULE_SLOTS, W, WORKER_SLOTS } from "../stats/registry.ts";

/** Minimal logger (src/log.ts satisfies it). */
export interface PoolLogger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  debug?(msg: string, fields?: Record<string, unknown>): void;
}

export interface PoolOptions {
  logger: PoolLogger;
  /** How long an idle worker sleeps in one wait (its heartbeat period when idle). */
  waitTimeoutMs: number;
  /** How long to wait for a worker to acknowledge a plan. */
  applyTimeoutMs: number;
  /** Heartbeat age after which a forwarding worker is declared stuck. */
  stuckMs?: number;
  /** The same while it applies a plan (ring creation beats between rings, but one ring may take long). */
  applyingStuckMs?: number;
}

/**
 * Faults tests can inject (MCR_FAULT_INJECTION=1): throw, spin without
 * progress, block inside native code (stall), or fail the next plan after
 * its rings are open (fail_apply).
 */
export type FaultKind = "throw" | "hang" | "stall" | "fail_apply";

/** One worker slot; a restart replaces the handle, never reuses it. */
export class WorkerHandle {
  worker: Worker | null = null;
  alive = false;
  waiterHandle = -1;
  arenaHandle = -1;
  /** What it holds after its last applied plan (introspection). */
  rings: HeldRing[] = [];
  /** The last plan it acknowledged (object identity). */
  plan: WorkerPlan | null = null;
  readonly control = new Int32Array(new SharedArrayBuffer(CONTROL_WORDS * 4));
  readonly counters = new Float64Array(new SharedArrayBuffer(WORKER_SLOTS * 8));
  readonly ruleCounters = new Float64Array(new SharedArrayBuffer(MAX_RULE_SLOTS * RULE_SLOTS * 8));
  readonly outputCounters = new Float64Array(new SharedArrayBuffer(MAX_OUTPUT_SLOTS * OUTPUT_SLOTS * 8));
  readonly waiting = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  ready: Promise<void> = Promise.resolve();
  stopped: Promise<void> = Promise.resolve();
  constructor(readonly id: number, readonly restarts: number) {}
}

/** A fenced worker whose thread may still be inside native code. */
interface Fenced {
  id: number;
  waiterHandle: number;
  arenaHandle: number;
  arenaFenced: boolean;
  since: number;
}

/** Counters of workers that exited, so totals never go backwards. */
export interface ArchivedCounters {
  worker: Float64Array;
  rule: Float64Array;
  output: Float64Array;
}

function addInto(into: Float64Array, from: Float64Array): void {
  for (let i = 0; i < into.length; i++) into[i] += from[i];
}

export class WorkerPool {
  #workers: WorkerHandle[] = [];
  #generation = 0;
  /** The plan every worker should run (a replacement is given this one). */
  #target: WorkerPlan | null = null;
  readonly archived: ArchivedCounters = {
    worker: new Float64Array(WORKER_SLOTS),
    rule: new Float64Array(MAX_RULE_SLOTS * RULE_SLOTS),
    output: new Float64Array(MAX_OUTPUT_SLOTS * OUTPUT_SLOTS),
  };
  #fenced: Fenced[] = [];
  #stopping = false;
  #log: PoolLogger;
  #stuckMs: number;
  #applyingStuckMs: number;

  constructor(readonly options: PoolOptions) {
    this.#log = options.logger;
    this.#stuckMs = options.stuckMs ?? Math.max(500, 5 * options.waitTimeoutMs);
    this.#applyingStuckMs = options.applyingStuckMs ?? Math.max(10_000, options.applyTimeoutMs);
  }

  get workers(): readonly WorkerHandle[] {
    return this.#workers;
  }

  /**
   * Starts `count` workers. The caller drives the watchdog: watch() about
   * every 100 ms (one timer for all of the supervisor's housekeeping keeps an
   * idle relay's wake-ups few).
   */
  async start(count: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      const h = new WorkerHandle(i, 0);
      this.#workers.push(h);
      this.#spawn(h);
    }
    await Promise.all(this.#workers.map((w) => w.ready));
  }

  /**
   * Makes every worker run `plan`; resolves when all alive workers have
   * acknowledged it (a worker restarted meanwhile is given it too). Rejects
   * if a worker refuses it, dies, or does not answer in time.
   */
  async deliver(plan: WorkerPlan): Promise<void> {
    this.#target = plan;
    for (let round = 0; round < 4; round++) {
      const behind = this.#workers.filter((w) => w.alive && w.plan !== plan);
      if (behind.length === 0) return;
      await Promise.all(behind.map((w) => this.#sendTo(w, plan)));
    }
    throw new Error("workers kept restarting while a configuration was applied");
  }

  /** Stops every worker (they drain, flush and release their rings). */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    for (const w of this.#workers) {
      Atomics.store(w.control, CONTROL_COMMAND, COMMAND_STOP);
      if (w.waiterHandle >= 0) Waiter.notifyHandle(w.waiterHandle);
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<void>((r) => timer = setTimeout(r, 2000));
    await Promise.race([Promise.all(this.#workers.map((w) => w.stopped)), timeout]);
    clearTimeout(timer);
    for (const w of this.#workers) {
      // One that did not stop in time is fenced like a stuck one, never freed.
      if (w.alive) this.#fence(w);
      w.alive = false;
      w.worker?.terminate();
    }
  }

  /** Workers fenced whose thread is still inside native code, and for how long. */
  zombies(): { id: number; stuck_ms: number }[] {
    const now = Date.now();
    return this.#fenced.filter((f) => f.waiterHandle >= 0 && Waiter.stateOf(f.waiterHandle) === "held")
      .map((f) => ({ id: f.id, stuck_ms: now - f.since }));
  }

  /** Test hook (MCR_FAULT_INJECTION=1): make a worker throw, spin without progress, or block inside native code. */
  injectFault(workerId: number, kind: FaultKind, ms = 1500): boolean {
    const w = this.#workers.find((x) => x.id === workerId && x.alive);
    if (!w || w.waiterHandle < 0) return false;
    if (kind === "fail_apply") {
      Atomics.store(w.control, CONTROL_FAULT, FAULT_FAIL_APPLY);
      return true;
    }
    if (kind === "stall") {
      Waiter.stallHandle(w.waiterHandle, ms);
    } else {
      Atomics.store(w.control, CONTROL_COMMAND, kind === "throw" ? COMMAND_FAULT_THROW : COMMAND_FAULT_HANG);
    }
    Waiter.notifyHandle(w.waiterHandle);
    return true;
  }

  #spawn(h: WorkerHandle): void {
    const worker = new Worker(new URL("../dataplane/worker.ts", import.meta.url).href, {
      type: "module",
      name: `mcr-worker-${h.id}`,
    });
    h.worker = worker;
    h.alive = true;
    let readyResolve!: () => void;
    let stoppedResolve!: () => void;
    h.ready = new Promise((r) => readyResolve = r);
    h.stopped = new Promise((r) => stoppedResolve = r);
    worker.onmessage = (e: MessageEvent<FromWorker>) => {
      const m = e.data;
      switch (m.type) {
        case "ready":
          h.waiterHandle = m.waiterHandle;
          h.arenaHandle = m.arenaHandle;
          readyResolve();
          break;
        case "applied":
          h.rings = m.rings;
          h.waiting.get(m.generation)?.resolve();
          h.waiting.delete(m.generation);
          break;
        case "plan_error":
          h.waiting.get(m.generation)?.reject(new Error(`worker ${h.id}: ${m.message}`));
          h.waiting.delete(m.generation);
          break;
        case "fatal":
          this.#log.error("worker failed", { worker: h.id, error: m.message, code: m.code });
          readyResolve();
          this.#onDeath(h);
          break;
        case "stopped":
          h.alive = false;
          stoppedResolve();
          break;
      }
    };
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      this.#log.error("worker crashed", { worker: h.id, error: e.message });
      readyResolve();
      this.#onDeath(h);
    };
    const init: ToWorker = {
      type: "init",
      id: h.id,
      control: h.control.buffer as SharedArrayBuffer,
      workerCounters: h.counters.buffer as SharedArrayBuffer,
      ruleCounters: h.ruleCounters.buffer as SharedArrayBuffer,
      outputCounters: h.outputCounters.buffer as SharedArrayBuffer,
      waitTimeoutMs: this.options.waitTimeoutMs,
    };
    worker.postMessage(init);
  }

  /** Sends a plan under a fresh generation; resolves when the worker acknowledges it. */
  async #sendTo(w: WorkerHandle, plan: WorkerPlan): Promise<void> {
    await w.ready;
    if (!w.alive) throw new Error(`worker ${w.id} died`);
    const generation = ++this.#generation;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const done = new Promise<void>((resolve, reject) => {
      w.waiting.set(generation, { resolve, reject });
      timer = setTimeout(() => {
        if (w.waiting.delete(generation)) {
          reject(new Error(`worker ${w.id} did not apply configuration generation ${generation} in time`));
        }
      }, this.options.applyTimeoutMs);
    });
    w.worker!.postMessage({ type: "plan", plan: { ...plan, generation } } satisfies ToWorker);
    Atomics.store(w.control, CONTROL_REQUESTED_GEN, generation);
    Atomics.compareExchange(w.control, CONTROL_COMMAND, 0, COMMAND_RECONFIGURE);
    Waiter.notifyHandle(w.waiterHandle);
    try {
      await done;
      w.plan = plan;
    } catch (err) {
      w.plan = null; // half-applied: whatever plan comes next must be sent again
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Fences a dead or stuck worker, archives its counters and starts a replacement with the plan in force. */
  #onDeath(h: WorkerHandle): void {
    if (!h.alive) return;
    h.alive = false;
    h.worker?.terminate();
    this.#fence(h);
    for (const p of h.waiting.values()) p.reject(new Error(`worker ${h.id} died`));
    h.waiting.clear();
    if (this.#stopping) return;
    addInto(this.archived.worker, h.counters);
    addInto(this.archived.rule, h.ruleCounters);
    addInto(this.archived.output, h.outputCounters);
    const replacement = new WorkerHandle(h.id, h.restarts + 1);
    this.#workers[this.#workers.indexOf(h)] = replacement;
    this.#spawn(replacement);
    replacement.ready.then(() => {
      if (this.#target && replacement.alive && replacement.plan !== this.#target) {
        return this.#sendTo(replacement, this.#target);
      }
    }).catch((err) => this.#log.error("restarted worker rejected the plan", { worker: h.id, error: String(err) }));
  }

  #fence(h: WorkerHandle): void {
    if (h.waiterHandle >= 0) Waiter.fenceHandle(h.waiterHandle);
    const f: Fenced = {
      id: h.id,
      waiterHandle: h.waiterHandle,
      arenaHandle: h.arenaHandle,
      arenaFenced: h.arenaHandle < 0,
      since: Date.now(),
    };
    this.#fenced.push(f);
    this.#retryFences();
    this.#log.warn("worker fenced: its sockets are released, its memory kept until its thread leaves native code", {
      worker: h.id,
      arena_fenced: f.arenaFenced,
    });
  }

  /** Arenas whose owner was inside an arena call at fence time are fenced on a later tick. */
  #retryFences(): void {
    for (const f of this.#fenced) if (!f.arenaFenced) f.arenaFenced = fenceArena(f.arenaHandle);
    // Forget fully released ones (waiter freed by its thread, arena fenced).
    this.#fenced = this.#fenced.filter((f) => !f.arenaFenced || (f.waiterHandle >= 0 && Waiter.stateOf(f.waiterHandle) === "held"));
  }

  /**
   * A worker's loop turns at least every waitTimeoutMs, even idle, and beats
   * between rings while applying a plan; a heartbeat older than the phase's
   * limit means it is stuck: fence it and start a replacement.
   */
  watch(): void {
    if (this.#stopping) return;
    const now = Date.now();
    for (const w of this.#workers) {
      const hb = w.counters[W.heartbeat_ms];
      if (!w.alive || w.waiterHandle < 0 || hb === 0) continue;
      const applying = Atomics.load(w.control, CONTROL_PHASE) === PHASE_APPLYING;
      const limit = applying ? this.#applyingStuckMs : this.#stuckMs;
      if (now - hb > limit) {
        this.#log.error("worker made no progress; fencing and restarting it", {
          worker: w.id,
          stalled_ms: now - hb,
          phase: applying ? "applying" : "forwarding",
        });
        this.#onDeath(w);
      }
    }
    if (this.#fenced.length > 0) this.#retryFences();
  }
}
