/**
 * The forwarding workers: spawn, plan delivery, ring successions, watchdog,
 * restart (one worker's handle: worker_handle.ts; fencing: fences.ts).
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
 *
 * A plan that re-creates RX rings (a new worker count, fanout group or ring
 * kind) is followed by a ring succession (src/dataplane/succession.ts): the
 * pool cuts every predecessor at one time, waits until all have retired,
 * then releases the successors. The worker count changes the same way:
 * new workers start with held rings, leaving ones retire theirs and stop.
 */
import { Waiter } from "../../ffi/waiter.ts";
import { threadState } from "../../ffi/process.ts";
import { StarvationJudge } from "./starvation.ts";
import { Standbys } from "./standby.ts";
import {
  COMMAND_FAULT_HANG,
  COMMAND_FAULT_THROW,
  COMMAND_HANDOVER,
  COMMAND_RECONFIGURE,
  COMMAND_STOP,
  CONTROL_COMMAND,
  CONTROL_CUT_SEC,
  CONTROL_CUT_USEC,
  CONTROL_FAULT,
  CONTROL_HANDOVER,
  CONTROL_PHASE,
  CONTROL_REQUESTED_GEN,
  CONTROL_TID,
  FAULT_FAIL_APPLY,
  type FromWorker,
  PHASE_APPLYING,
  type RuleDelta,
  STEP_CUT,
  STEP_CUT_ALL,
  STEP_RELEASE,
  type ToWorker,
} from "../dataplane/channel.ts";
import type { WorkerPlan } from "../dataplane/plan_types.ts";
import { OUTPUT_SLOTS, RULE_SLOTS, W } from "../stats/registry.ts";
import { STREAM_BLOCK_SLOTS } from "../streams/stream_slots.ts";
import {
  archiveCounters,
  type ArchivedCounters,
  emptyArchive,
  type RestartRecord,
  WorkerHandle,
} from "./worker_handle.ts";
import { Fences } from "./fences.ts";

/** How far ahead of now a succession's cut is set (every worker must see it before it passes). */
const CUT_LEAD_MS = 20;
/** A gap this long between two watchdog turns (it runs every 250 ms) means the relay was paused. */
const PAUSE_MS = 600;
/**
 * After a pause every thread is runnable at once and a loaded host schedules them late: workers
 * are judged again only this long after the relay resumed (a real hang is still caught, later).
 */
const RESUME_GRACE_MS = 2000;
/** How long a succession step may take before the pool goes on without that worker. */
const STEP_TIMEOUT_MS = 3000;

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
  /** Worker restarts and count changes, for the API's event stream. Must not block. */
  onEvent?: (type: string, data: Record<string, unknown>) => void;
  /** A standby thread per worker, to replace a failed one at once (default true; standby.ts). */
  standby?: boolean;
}

/**
 * Faults tests can inject (MCR_FAULT_INJECTION=1): throw, spin without
 * progress, block inside native code (stall), fail the next plan after its
 * rings are open (fail_apply), or hold the next delivery of a plan for `ms`
 * (slow_apply: a change that takes long, with every worker healthy).
 */
export type FaultKind = "throw" | "hang" | "stall" | "fail_apply" | "slow_apply";

/**
 * The rules to post: a delta from the plan the worker last applied (rule
 * plans keep their identity while unchanged: src/supervisor/plan.ts), or all
 * of them when it has none.
 */
export function ruleDelta(applied: WorkerPlan | null, next: WorkerPlan): RuleDelta {
  if (applied === null) return { all: next.rules };
  const before = new Set(applied.rules);
  const now = new Set(next.rules);
  return {
    remove: applied.rules.filter((r) => !now.has(r)).map((r) => r.name),
    add: next.rules.filter((r) => !before.has(r)),
  };
}

export class WorkerPool {
  #workers: WorkerHandle[] = [];
  #generation = 0;
  /** The plan every worker should run (a replacement is given this one). */
  #target: WorkerPlan | null = null;
  readonly archived: ArchivedCounters = emptyArchive();
  #fences: Fences;
  /** When watch() last ran, and when the relay last resumed from a pause (ms). */
  #lastWatchAt = 0;
  #resumedAt = 0;
  #stopping = false;
  #log: PoolLogger;
  #stuckMs: number;
  #applyingStuckMs: number;
  /** Asks the scheduler whether a late worker is starved or stuck (starvation.ts). */
  #starvation = new StarvationJudge(threadState);
  /** A standby thread per worker id, to replace a failed worker at once (standby.ts). */
  #standbys: Standbys;
  /** Test hook (slow_apply): the next delivery waits this long first. */
  #slowNext = 0;

  constructor(readonly options: PoolOptions) {
    this.#log = options.logger;
    this.#fences = new Fences(options.logger);
    this.#standbys = new Standbys((h) => this.#spawn(h), options.standby ?? true);
    this.#stuckMs = options.stuckMs ?? Math.max(500, 3 * options.waitTimeoutMs);
    this.#applyingStuckMs = options.applyingStuckMs ?? Math.max(10_000, options.applyTimeoutMs);
  }

  /** Zeroes the counter blocks of released slots in every worker and the archive (a slot is reused from zero). */
  zeroReleased(released: { rules: number[]; outputs: number[]; streams: number[] }): void {
    const zero = (blocks: Float64Array[], width: number, slots: number[]) => {
      for (const slot of slots) for (const b of blocks) b.fill(0, slot * width, (slot + 1) * width);
    };
    const live = this.#workers;
    zero([this.archived.rule, ...live.map((w) => w.ruleCounters)], RULE_SLOTS, released.rules);
    zero(
      [this.archived.output, ...live.map((w) => w.outputCounters)],
      OUTPUT_SLOTS,
      released.outputs,
    );
    zero(
      [this.archived.stream, ...live.map((w) => w.streamCounters)],
      STREAM_BLOCK_SLOTS,
      released.streams,
    );
  }

  get workers(): readonly WorkerHandle[] {
    return this.#workers;
  }

  /**
   * Runs the watchdog every `ms`. The clock starts now: a pause that begins before its first
   * turn is a pause too (it was taken for a stuck worker when the first turn only set the clock).
   */
  watchEvery(ms: number): ReturnType<typeof setInterval> {
    this.#lastWatchAt = Date.now();
    return setInterval(() => this.watch(), ms);
  }

  async start(count: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      const h = new WorkerHandle(i, 0);
      this.#workers.push(h);
      this.#spawn(h);
    }
    await Promise.all(this.#workers.map((w) => w.ready));
    for (const w of this.#workers) this.#standbys.prepare(w.id, w.restarts);
  }

  /**
   * Makes every worker run `plan`; resolves when all alive workers have
   * acknowledged it (a worker restarted meanwhile is given it too). Rejects
   * if a worker refuses it, dies, or does not answer in time.
   */
  async deliver(plan: WorkerPlan, hold: readonly number[] = []): Promise<void> {
    if (this.#slowNext > 0) {
      const ms = this.#slowNext;
      this.#slowNext = 0;
      await new Promise((r) => setTimeout(r, ms));
    }
    await this.#deliverTo(plan, hold);
    if (this.#workers.some((w) => w.alive && w.succession > 0)) {
      await this.#succession(this.#workers, []);
    }
  }

  /**
   * Changes the number of workers to `count` while they run `plan`, whose
   * RX rings are all new (a new fanout group per input): workers that start
   * hold theirs until the release; workers that leave retire theirs at the
   * cut and stop. Nothing is lost, sent twice or reordered (succession.ts).
   * If the new plan is refused, the workers started for it are stopped and
   * the error rethrown; the caller gives the others the previous plan back.
   */
  async resize(count: number, plan: WorkerPlan, hold: readonly number[]): Promise<void> {
    const before = this.#workers.length;
    const started: WorkerHandle[] = [];
    for (let id = before; id < count; id++) {
      const h = new WorkerHandle(id, 0);
      this.#spawn(h);
      started.push(h);
    }
    this.#workers = [...this.#workers, ...started];
    const leaving = this.#workers.slice(count);
    const staying = this.#workers.slice(0, count);
    try {
      await Promise.all(started.map((w) => w.ready));
      this.#workers = staying.concat(leaving); // leaving ones still run the previous plan
      this.#target = plan;
      for (let round = 0; round < 4; round++) {
        const behind = staying.filter((w) => w.alive && w.plan !== plan);
        if (behind.length === 0) break;
        await Promise.all(behind.map((w) => this.#sendTo(w, plan, hold)));
        if (round === 3) throw new Error("workers kept restarting while the worker count changed");
      }
    } catch (err) {
      this.#workers = this.#workers.filter((w) => !started.includes(w));
      await this.#retire(started);
      throw err;
    }
    this.#workers = staying;
    await this.#succession(staying, leaving);
    await this.#retire(leaving);
    await this.#standbys.stop(leaving.map((w) => w.id));
    for (const w of started) this.#standbys.prepare(w.id, w.restarts);
    this.#log.info("worker count changed", { from: before, to: count });
    this.options.onEvent?.("worker", { event: "count", from: before, to: count });
  }

  async #deliverTo(plan: WorkerPlan, hold: readonly number[]): Promise<void> {
    this.#target = plan;
    for (let round = 0; round < 4; round++) {
      const behind = this.#workers.filter((w) => w.alive && w.plan !== plan);
      if (behind.length === 0) return;
      await Promise.all(behind.map((w) => this.#sendTo(w, plan, hold)));
    }
    throw new Error("workers kept restarting while a configuration was applied");
  }

  /**
   * One ring succession: every predecessor (in `staying` and `leaving`) cut
   * at the same time a few milliseconds ahead, then, once all have retired
   * (or 3 s passed: a stuck worker is the watchdog's), successors released.
   */
  async #succession(
    staying: readonly WorkerHandle[],
    leaving: readonly WorkerHandle[],
  ): Promise<void> {
    const cutUs = (Date.now() + CUT_LEAD_MS) * 1000;
    const t0 = performance.now();
    await Promise.all([
      ...staying.map((w) => this.#step(w, STEP_CUT, cutUs)),
      ...leaving.map((w) => this.#step(w, STEP_CUT_ALL, cutUs)),
    ]);
    await Promise.all(staying.map((w) => this.#step(w, STEP_RELEASE, cutUs)));
    for (const w of staying) w.succession = 0;
    this.#log.debug?.("ring succession", {
      workers: staying.length,
      leaving: leaving.length,
      ms: Math.round(performance.now() - t0),
    });
  }

  /** Asks a worker for a succession step; resolves when it is done, the worker dies, or after 3 s. */
  #step(w: WorkerHandle, step: number, cutUs: number): Promise<void> {
    if (!w.alive || w.waiterHandle < 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        w.steps.delete(step === STEP_CUT_ALL ? STEP_CUT : step);
        this.#log.warn("worker did not finish a ring succession step in time", {
          worker: w.id,
          step,
        });
        resolve();
      }, STEP_TIMEOUT_MS);
      w.steps.set(step === STEP_CUT_ALL ? STEP_CUT : step, () => {
        clearTimeout(timer);
        resolve();
      });
      Atomics.store(w.control, CONTROL_CUT_SEC, Math.floor(cutUs / 1e6));
      Atomics.store(w.control, CONTROL_CUT_USEC, cutUs % 1e6);
      Atomics.store(w.control, CONTROL_HANDOVER, step);
      Atomics.compareExchange(w.control, CONTROL_COMMAND, 0, COMMAND_HANDOVER);
      Waiter.notifyHandle(w.waiterHandle);
    });
  }

  /** Stops workers that leave the pool (they drain and release their rings) and keeps their counters. */
  async #retire(leaving: readonly WorkerHandle[]): Promise<void> {
    if (leaving.length === 0) return;
    for (const w of leaving) {
      Atomics.store(w.control, CONTROL_COMMAND, COMMAND_STOP);
      if (w.waiterHandle >= 0) Waiter.notifyHandle(w.waiterHandle);
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<void>((r) => timer = setTimeout(r, 2000));
    await Promise.race([Promise.all(leaving.map((w) => w.stopped)), timeout]);
    clearTimeout(timer);
    for (const w of leaving) {
      if (w.alive) this.#fences.fence(w); // did not stop in time: fenced like a stuck one, never freed
      w.alive = false;
      w.worker?.terminate();
      for (const resolve of w.steps.values()) resolve();
      w.steps.clear();
      archiveCounters(w, this.archived);
    }
  }

  /** Stops every worker (they drain, flush and release their rings). */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    const standbys = this.#standbys.stop();
    for (const w of this.#workers) {
      Atomics.store(w.control, CONTROL_COMMAND, COMMAND_STOP);
      if (w.waiterHandle >= 0) Waiter.notifyHandle(w.waiterHandle);
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<void>((r) => timer = setTimeout(r, 2000));
    await Promise.race([Promise.all(this.#workers.map((w) => w.stopped)), timeout]);
    clearTimeout(timer);
    await standbys;
    for (const w of this.#workers) {
      // One that did not stop in time is fenced like a stuck one, never freed.
      if (w.alive) this.#fences.fence(w);
      w.alive = false;
      w.worker?.terminate();
    }
  }

  /** Workers fenced whose thread is still inside native code, and for how long. */
  zombies(): { id: number; stuck_ms: number }[] {
    return this.#fences.zombies();
  }

  /** Test hook (MCR_FAULT_INJECTION=1): make a worker throw, spin without progress, or block inside native code. */
  injectFault(workerId: number, kind: FaultKind, ms = 1500): boolean {
    const w = this.#workers.find((x) => x.id === workerId && x.alive);
    if (!w || w.waiterHandle < 0) return false;
    if (kind === "fail_apply") {
      Atomics.store(w.control, CONTROL_FAULT, FAULT_FAIL_APPLY);
      return true;
    }
    if (kind === "slow_apply") {
      this.#slowNext = ms;
      return true;
    }
    if (kind === "stall") {
      Waiter.stallHandle(w.waiterHandle, ms);
    } else {
      Atomics.store(
        w.control,
        CONTROL_COMMAND,
        kind === "throw" ? COMMAND_FAULT_THROW : COMMAND_FAULT_HANG,
      );
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
          if (m.rehearsal) this.#log.debug?.("worker rehearsed", { worker: h.id, ...m.rehearsal });
          if (h.lastRestart !== null && h.lastRestart.forwarding_at_ms === null) {
            h.lastRestart.forwarding_at_ms = Date.now();
          }
          h.rings = m.rings;
          h.succession = m.succession;
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
          this.#onDeath(h, "threw");
          break;
        case "step_done":
          h.rings = m.rings;
          if (m.late) {
            this.#log.warn(
              "a worker took its ring-succession cut late: packets around it may have been sent twice",
              {
                worker: h.id,
              },
            );
          }
          h.steps.get(m.step)?.();
          h.steps.delete(m.step);
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
      this.#onDeath(h, "crashed");
    };
    const init: ToWorker = {
      type: "init",
      id: h.id,
      control: h.control.buffer as SharedArrayBuffer,
      workerCounters: h.counters.buffer as SharedArrayBuffer,
      ruleCounters: h.ruleCounters.buffer as SharedArrayBuffer,
      outputCounters: h.outputCounters.buffer as SharedArrayBuffer,
      streamCounters: h.streamCounters.buffer as SharedArrayBuffer,
      waitTimeoutMs: this.options.waitTimeoutMs,
      standby: h.standby,
    };
    worker.postMessage(init);
  }

  /** Sends a plan under a fresh generation; resolves when the worker acknowledges it. */
  async #sendTo(w: WorkerHandle, plan: WorkerPlan, hold: readonly number[] = []): Promise<void> {
    await w.ready;
    if (!w.alive) throw new Error(`worker ${w.id} died`);
    const generation = ++this.#generation;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const done = new Promise<void>((resolve, reject) => {
      w.waiting.set(generation, { resolve, reject });
      timer = setTimeout(() => {
        if (w.waiting.delete(generation)) {
          reject(
            new Error(
              `worker ${w.id} did not apply configuration generation ${generation} in time`,
            ),
          );
        }
      }, this.options.applyTimeoutMs);
    });
    w.worker!.postMessage(
      {
        type: "plan",
        plan: { ...plan, rules: [], generation },
        rules: ruleDelta(w.plan, plan),
        hold: [...hold],
      } satisfies ToWorker,
    );
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
  #onDeath(h: WorkerHandle, cause: RestartRecord["cause"]): void {
    if (!h.alive) return;
    const record: RestartRecord = {
      cause,
      last_heartbeat_at_ms: h.counters[W.heartbeat_ms],
      detected_at_ms: Date.now(),
      forwarding_at_ms: null,
    };
    h.alive = false;
    h.worker?.terminate();
    this.#fences.fence(h);
    for (const p of h.waiting.values()) p.reject(new Error(`worker ${h.id} died`));
    h.waiting.clear();
    for (const resolve of h.steps.values()) resolve(); // its rings are gone: nothing to wait for
    h.steps.clear();
    if (this.#stopping) return;
    archiveCounters(h, this.archived);
    const at = this.#workers.indexOf(h);
    if (at < 0) return; // a worker leaving the pool is not replaced
    // The standby of this id takes over at once (its modules compiled); else a new thread.
    const standby = this.#standbys.take(h.id);
    const replacement = standby ?? new WorkerHandle(h.id, h.restarts + 1);
    replacement.lastRestart = { ...record, replacement: standby ? "standby" : "new_thread" };
    this.#workers[at] = replacement;
    this.options.onEvent?.("worker", {
      worker: h.id,
      event: "restarted",
      restarts: replacement.restarts,
    });
    if (standby) standby.worker!.postMessage({ type: "activate" });
    else this.#spawn(replacement);
    this.#standbys.prepare(h.id, replacement.restarts);
    replacement.ready.then(() => {
      if (this.#target && replacement.alive && replacement.plan !== this.#target) {
        return this.#sendTo(replacement, this.#target);
      }
    }).catch((err) =>
      this.#log.error("restarted worker rejected the plan", { worker: h.id, error: String(err) })
    );
  }

  /**
   * A worker's loop turns at least every waitTimeoutMs, even idle, and beats
   * between rings while applying a plan; a heartbeat older than the phase's
   * limit means it is stuck: fence it and start a replacement.
   */
  watch(): void {
    if (this.#stopping) return;
    const now = Date.now();
    // The watchdog itself was not run for a long while: the whole relay was paused (SIGSTOP,
    // a VM or container pause) or starved of CPU. Its workers were held as long: they are
    // judged from now on, not for the time nobody ran.
    if (this.#lastWatchAt !== 0 && now - this.#lastWatchAt > PAUSE_MS) {
      this.#resumedAt = now;
      this.#log.warn("the relay was not scheduled for a while (paused or starved of CPU)", {
        gap_ms: now - this.#lastWatchAt,
      });
      this.options.onEvent?.("worker", { event: "relay_paused", gap_ms: now - this.#lastWatchAt });
    }
    this.#lastWatchAt = now;
    for (const w of this.#workers) {
      const hb = w.counters[W.heartbeat_ms];
      if (!w.alive || w.waiterHandle < 0 || hb === 0) continue;
      const applying = Atomics.load(w.control, CONTROL_PHASE) === PHASE_APPLYING;
      const base = applying ? this.#applyingStuckMs : this.#stuckMs;
      const judged = Math.max(hb, this.#resumedAt);
      const limit = judged === this.#resumedAt ? Math.max(base, RESUME_GRACE_MS) : base;
      const verdict = this.#starvation.judge(
        w.id,
        Atomics.load(w.control, CONTROL_TID),
        judged,
        now,
        limit,
      );
      if (verdict === "starved") {
        if (this.#starvation.firstTelling(w.id)) {
          this.#log.warn("worker starved of CPU (runnable, not scheduled); not restarted", {
            worker: w.id,
            stalled_ms: now - hb,
          });
          this.options.onEvent?.("worker", {
            event: "starved",
            worker: w.id,
            stalled_ms: now - hb,
          });
        }
      } else if (verdict === "stuck") {
        this.#starvation.forget(w.id);
        this.#log.error("worker made no progress; fencing and restarting it", {
          worker: w.id,
          stalled_ms: now - hb,
          phase: applying ? "applying" : "forwarding",
        });
        this.#onDeath(w, "stuck");
      }
    }
    if (this.#fences.pending) this.#fences.retry();
  }
}
