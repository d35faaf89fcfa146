/**
 * Worker entry point: one forwarding thread. It opens its own native library
 * handle, arena (through WorkerRings) and waiter, applies plans from the
 * supervisor and runs forwardLoop() between them:
 *
 *   init -> ready (handles posted) -> [plan -> applied] -> loop -> ... -> drain -> stopped
 *
 * A Worker blocked in the loop cannot receive messages, so the supervisor
 * posts a plan, sets CONTROL_COMMAND and wakes the waiter's eventfd; the loop
 * returns between blocks, this driver lets the event loop deliver the
 * message, applies it and re-enters the loop. Packets keep queueing in the
 * kernel rings meanwhile, so nothing is lost across a reconfiguration.
 *
 * Every native object this thread uses is released by this thread (at stop)
 * or, if it is stuck, fenced by the supervisor through the handles posted in
 * "ready" (ffi/arena.ts, ffi/waiter.ts): nothing is freed under its feet.
 */
/// <reference lib="deno.worker" />
import { loadLibrary } from "../../ffi/library.ts";
import {
  pinThread,
  RealtimeClock,
  setThreadName,
  setThreadPriority,
  setTimerSlack,
  threadId,
} from "../../ffi/process.ts";
import { RoutedSender } from "../../ffi/routed.ts";
import { Waiter } from "../../ffi/waiter.ts";
import { W } from "../stats/registry.ts";
import {
  COMMAND_FAULT_HANG,
  COMMAND_FAULT_THROW,
  COMMAND_HANDOVER,
  COMMAND_RECONFIGURE,
  COMMAND_RETIRED,
  COMMAND_RUN,
  COMMAND_STOP,
  CONTROL_APPLIED_GEN,
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
  PHASE_RUNNING,
  STEP_CUT,
  STEP_CUT_ALL,
  STEP_RELEASE,
  type ToWorker,
} from "./channel.ts";
import { CUT_BEFORE } from "./succession.ts";
import type { RulePlan } from "./plan_types.ts";
import { forwardLoop, processBlock, processFrames } from "./forward_loop.ts";
import { LoopState } from "./loop_state.ts";
import { flush } from "./tx.ts";
import { WorkerRings } from "./worker_rings.ts";
import { judgeIdle } from "../merge/merge_stage.ts";
import type { MergedPair } from "./tables.ts";
import { forwardHeld } from "./forward_packet.ts";
import { type RehearsalResult, rehearse } from "./rehearsal.ts";

const inbox: ToWorker[] = [];
let workerId = -1;
let wake: (() => void) | null = null;

self.onmessage = (e: MessageEvent<ToWorker>) => {
  inbox.push(e.data);
  wake?.();
};

function nextMessage(): Promise<ToWorker> {
  const m = inbox.shift();
  if (m) return Promise.resolve(m);
  return new Promise((resolve) => {
    wake = () => {
      wake = null;
      resolve(inbox.shift()!);
    };
  });
}

function post(m: FromWorker): void {
  self.postMessage(m);
}

/** Processes ready blocks until none is left, waiting once for partly filled blocks to retire. */
function drain(state: LoopState, retireWaitMs: number): void {
  for (let round = 0; round < 2; round++) {
    for (let n = 0; n < 100_000; n++) {
      let blocks = 0;
      for (const input of state.inputs) {
        blocks += input.frames ? processFrames(state, input) : processBlock(state, input);
      }
      if (blocks === 0) break;
    }
    if (round === 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, retireWaitMs);
  }
  flush(state);
}

/** One forwarding thread's state between messages: its handles, the plan in force, the succession. */
class WorkerThread {
  readonly id: number;
  readonly control: Int32Array;
  readonly counters: Float64Array;
  readonly ruleCounters: Float64Array;
  readonly outputCounters: Float64Array;
  readonly waiter: Waiter;
  readonly rings: WorkerRings;
  readonly sender: RoutedSender;
  readonly clock = new RealtimeClock();
  state: LoopState | null = null;
  /** The rules of the plan in force, by name (plans arrive as deltas: channel.ts RuleDelta). */
  readonly rulePlans = new Map<string, RulePlan>();
  /** The CPU this thread is pinned to (worker_cpus), null when it is not. */
  pinnedCpu: number | null = null;
  /** Its SCHED_FIFO priority (worker_priority), 0 under the ordinary policy. */
  priority = 0;
  /** What the rehearsal before the first plan did; rehearsalNew until an "applied" message says so. */
  rehearsal: RehearsalResult | null = null;
  rehearsalNew = false;
  /** A cut waits for its predecessors to retire before it is reported done. */
  cutPending = false;
  cutLate = false;

  constructor(init: Extract<ToWorker, { type: "init" }>) {
    this.id = init.id;
    this.control = new Int32Array(init.control);
    this.counters = new Float64Array(init.workerCounters);
    this.ruleCounters = new Float64Array(init.ruleCounters);
    this.outputCounters = new Float64Array(init.outputCounters);
    loadLibrary();
    Atomics.store(this.control, CONTROL_TID, threadId());
    setThreadName(`mcr-${init.standby ? "standby" : "worker"}-${init.id}`);
    // Timed sleeps of tens of µs must not end up to 50 µs late (measured on kernel 6.18:
    // nanosleep and poll honour the slack; an io_uring timeout, what a nap is, does not).
    setTimerSlack(1000);
    this.waiter = Waiter.open(256);
    this.rings = new WorkerRings(
      this.waiter,
      this.beat,
      init.id,
      new Float64Array(init.streamCounters),
    );
    this.sender = new RoutedSender(this.rings.arena);
  }

  readonly beat = (): void => {
    this.counters[W.heartbeat_ms] = Date.now();
  };

  /** Kernel ring statistics and kick tallies, about once a second and at exit. */
  readonly periodic = (): void => {
    const c = this.counters;
    const st = this.rings.kernelStats();
    c[W.kernel_packets] += st.packets;
    c[W.kernel_drops] += st.drops;
    c[W.kernel_freezes] += st.freezes;
    const k = this.waiter.stats();
    c[W.tx_kicks] += k.kicks;
    c[W.tx_kick_errors] += k.kickErrors;
    c[W.tx_errors] += k.kickErrors;
    c[W.tx_kicks_deferred] += k.kicksDeferred;
    c[W.rx_socket_errors] += k.pollErrors;
    if (k.lastErrno !== 0) c[W.last_kick_errno] = k.lastErrno;
    const now = this.clock.nowUs();
    for (const m of this.merges) judgeIdle(m.pair, now);
  };
  /** The pairs this worker merges (the plan in force's). */
  merges: MergedPair[] = [];

  /** Applies every plan waiting in the inbox up to the requested generation. */
  async drainPlans(): Promise<void> {
    const control = this.control;
    while (
      Atomics.load(control, CONTROL_APPLIED_GEN) < Atomics.load(control, CONTROL_REQUESTED_GEN)
    ) {
      const m = await nextMessage();
      if (m.type !== "plan") continue;
      Atomics.store(control, CONTROL_PHASE, PHASE_APPLYING);
      this.beat();
      try {
        this.#apply(m);
        Atomics.store(control, CONTROL_APPLIED_GEN, m.plan.generation);
        post({
          type: "applied",
          id: this.id,
          generation: m.plan.generation,
          rings: this.rings.held(),
          succession: this.rings.succession(),
          ...(this.rehearsalNew ? { rehearsal: this.rehearsal! } : {}),
        });
        this.rehearsalNew = false;
      } catch (err) {
        Atomics.store(control, CONTROL_APPLIED_GEN, m.plan.generation);
        const e = err as Error & { code?: string };
        post({
          type: "plan_error",
          id: this.id,
          generation: m.plan.generation,
          message: e.message,
          code: e.code,
        });
      } finally {
        this.beat();
        Atomics.store(control, CONTROL_PHASE, PHASE_RUNNING);
      }
    }
  }

  /** One plan: rings opened or kept (worker_rings.ts), a new loop state over them. */
  #apply(m: Extract<ToWorker, { type: "plan" }>): void {
    // Frames and datagrams still batched go out before anything changes.
    if (this.state !== null) flush(this.state);
    // worker_cpus: this thread runs alone on its CPU, or anywhere the process may.
    const cpus = m.plan.workerCpus ?? [];
    const cpu = cpus.length > 0 ? cpus[this.id % cpus.length] : null;
    if (cpu !== this.pinnedCpu) {
      pinThread(cpu);
      this.pinnedCpu = cpu;
    }
    // worker_priority: SCHED_FIFO, or the ordinary policy (refused without CAP_SYS_NICE).
    const priority = m.plan.workerPriority ?? 0;
    if (priority !== this.priority) {
      setThreadPriority(priority);
      this.priority = priority;
    }
    if ("all" in m.rules) {
      this.rulePlans.clear();
      for (const r of m.rules.all) this.rulePlans.set(r.name, r);
    } else {
      for (const name of m.rules.remove) this.rulePlans.delete(name);
      for (const r of m.rules.add) this.rulePlans.set(r.name, r);
    }
    const tables = this.rings.apply({ ...m.plan, rules: [...this.rulePlans.values()] }, m.hold);
    if (Atomics.exchange(this.control, CONTROL_FAULT, 0) === FAULT_FAIL_APPLY) {
      throw new Error("injected fault: the plan failed after its rings were opened");
    }
    // The first plan: the per-packet code is compiled before the first real packet
    // (rehearsal.ts), once the plan's rings are open (measured: rehearsed any earlier, what
    // the worker does before it changed what the compiled code depends on, and V8 threw
    // away some of it).
    this.rehearseOnce();
    this.state = new LoopState({
      bytes: this.rings.arena.bytes,
      view: this.rings.arena.view,
      inputs: tables.inputs,
      txPorts: tables.txPorts,
      routedPorts: tables.routedPorts,
      workerCounters: this.counters,
      ruleCounters: this.ruleCounters,
      outputCounters: this.outputCounters,
      control: this.control,
      kicker: this.waiter,
      periodic: this.periodic,
      sender: this.sender,
      busyPollUs: m.plan.busyPollUs ?? 0,
      napUs: m.plan.napUs ?? 0,
      clock: this.clock,
      holds: tables.merges.flatMap((x) => x.pair.hold !== null ? [x.pair] : []),
    });
    this.state.retiring = tables.inputs.filter((p) => p.cut === CUT_BEFORE).length;
    this.merges = tables.merges;
    // A resequencing pair's held frames go out through this loop's state.
    const state = this.state;
    for (const { pair, legRules } of tables.merges) {
      pair.release = (leg, off, len, status, vid, arrivalUs) =>
        forwardHeld(state, legRules[leg], off, len, status, vid, arrivalUs);
    }
  }

  /** Rehearses (rehearsal.ts) unless this thread already has; the next "applied" message reports it. */
  rehearseOnce(): void {
    if (this.rehearsal !== null) return;
    this.rehearsal = rehearse(this.clock, {
      kicker: this.waiter,
      sender: this.sender,
      periodic: this.periodic,
    });
    this.rehearsalNew = true;
  }

  /** Reports the cut done once its predecessors have retired. */
  cutDone(): void {
    if (!this.cutPending || (this.state !== null && this.state.retiring !== 0)) return;
    this.cutPending = false;
    post({
      type: "step_done",
      id: this.id,
      step: STEP_CUT,
      rings: this.rings.held(),
      late: this.cutLate,
    });
  }

  /** Ring succession (succession.ts): the step the supervisor asked for, if any. */
  succession(): void {
    const control = this.control;
    const step = Atomics.exchange(control, CONTROL_HANDOVER, 0);
    if (step === 0) return;
    const cutUs = (control[CONTROL_CUT_SEC] >>> 0) * 1e6 + control[CONTROL_CUT_USEC];
    if (step === STEP_CUT || step === STEP_CUT_ALL) {
      const late = this.clock.nowUs() >= cutUs;
      const n = this.rings.cut(cutUs, step === STEP_CUT_ALL);
      if (this.state !== null) this.state.retiring = n;
      this.cutPending = true;
      this.cutLate = late;
      this.cutDone();
    } else if (step === STEP_RELEASE) {
      const inputs = this.rings.release(cutUs);
      if (this.state !== null) {
        this.state.inputs = inputs;
        this.state.retiring = 0;
      }
      post({ type: "step_done", id: this.id, step: STEP_RELEASE, rings: this.rings.held() });
    }
  }

  /** Runs the loop, answering commands between its turns, until told to stop. */
  async run(waitTimeoutMs: number): Promise<void> {
    const control = this.control;
    await this.drainPlans();
    this.succession();
    for (;;) {
      if (Atomics.load(control, CONTROL_COMMAND) === COMMAND_STOP) break;
      let command: number;
      if (this.state === null) {
        this.waiter.wait(waitTimeoutMs);
        this.beat();
        command = Atomics.load(control, CONTROL_COMMAND);
      } else {
        command = forwardLoop(this.state, waitTimeoutMs);
      }
      if (command === COMMAND_STOP) break;
      if (command === COMMAND_FAULT_THROW) throw new Error("injected fault: worker throws");
      if (command === COMMAND_FAULT_HANG) {
        for (;;) {
          /* injected fault: no progress, no heartbeat */
        }
      }
      if (command === COMMAND_RECONFIGURE) {
        Atomics.compareExchange(control, CONTROL_COMMAND, COMMAND_RECONFIGURE, COMMAND_RUN);
        await this.drainPlans();
      }
      if (command === COMMAND_RETIRED) {
        this.state!.inputs = this.rings.closeRetired();
        this.cutDone();
      }
      if (command === COMMAND_HANDOVER) {
        Atomics.compareExchange(control, CONTROL_COMMAND, COMMAND_HANDOVER, COMMAND_RUN);
      }
      this.succession();
    }
  }

  /**
   * Drain: forward what the rings already hold (the supervisor has left the
   * groups, so little more arrives), then final statistics, rings released.
   */
  stop(): void {
    if (this.state !== null) drain(this.state, 2 * this.rings.maxRetireMs());
    // Resequencing merges: what is still held goes out now, in order.
    for (const m of this.merges) m.pair.sequence?.judge(Number.MAX_VALUE);
    if (this.state !== null) flush(this.state);
    this.periodic();
    this.rings.releaseAll();
    this.waiter.close();
  }
}

async function main(): Promise<void> {
  const init = await nextMessage();
  if (init.type !== "init") throw new Error("worker: first message must be init");
  workerId = init.id;
  const thread = new WorkerThread(init);
  post({
    type: "ready",
    id: init.id,
    waiterHandle: thread.waiter.handle,
    arenaHandle: thread.rings.arena.handle,
  });
  // A standby rehearses while it waits (a take-over then pays no rehearsal), then waits,
  // idle, until it replaces a failed worker (or the relay stops).
  if (init.standby) thread.rehearseOnce();
  while (init.standby) {
    const m = await nextMessage();
    if (m.type === "activate") {
      setThreadName(`mcr-worker-${init.id}`);
      break;
    }
    if (m.type === "stop") {
      thread.stop();
      post({ type: "stopped", id: init.id });
      self.close();
      return;
    }
  }
  await thread.run(init.waitTimeoutMs);
  thread.stop();
  post({ type: "stopped", id: init.id });
  self.close();
}

main().catch((err) => {
  const e = err as Error & { code?: string; op?: string };
  post({ type: "fatal", id: workerId, message: e.message, code: e.code, op: e.op });
  self.close();
});
