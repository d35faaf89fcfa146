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
import { pinThread, RealtimeClock, setTimerSlack } from "../../ffi/process.ts";
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

async function main(): Promise<void> {
  const init = await nextMessage();
  if (init.type !== "init") throw new Error("worker: first message must be init");
  const id = init.id;
  workerId = id;
  const control = new Int32Array(init.control);
  const workerCounters = new Float64Array(init.workerCounters);
  const ruleCounters = new Float64Array(init.ruleCounters);
  const outputCounters = new Float64Array(init.outputCounters);
  const streamCounters = new Float64Array(init.streamCounters);

  loadLibrary();
  // Naps (adaptive wake-ups) of tens of µs must not end up to 50 µs late.
  setTimerSlack(1000);
  const waiter = Waiter.open(256);
  const beat = () => workerCounters[W.heartbeat_ms] = Date.now();
  const rings = new WorkerRings(waiter, beat, id, streamCounters);
  const sender = new RoutedSender(rings.arena);
  const clock = new RealtimeClock();
  post({ type: "ready", id, waiterHandle: waiter.handle, arenaHandle: rings.arena.handle });
  let state: LoopState | null = null;
  /** The rules of the plan in force, by name (plans arrive as deltas: channel.ts RuleDelta). */
  const rulePlans = new Map<string, RulePlan>();

  /** Kernel ring statistics and kick tallies, about once a second and at exit. */
  const periodic = (): void => {
    const st = rings.kernelStats();
    workerCounters[W.kernel_packets] += st.packets;
    workerCounters[W.kernel_drops] += st.drops;
    workerCounters[W.kernel_freezes] += st.freezes;
    const k = waiter.stats();
    workerCounters[W.tx_kicks] += k.kicks;
    workerCounters[W.tx_kick_errors] += k.kickErrors;
    workerCounters[W.tx_errors] += k.kickErrors;
    workerCounters[W.tx_kicks_deferred] += k.kicksDeferred;
    workerCounters[W.rx_socket_errors] += k.pollErrors;
    if (k.lastErrno !== 0) workerCounters[W.last_kick_errno] = k.lastErrno;
  };

  /** The CPU this thread is pinned to (worker_cpus), null when it is not. */
  let pinnedCpu: number | null = null;

  /** Applies every plan waiting in the inbox up to the requested generation. */
  const drainPlans = async (): Promise<void> => {
    while (
      Atomics.load(control, CONTROL_APPLIED_GEN) < Atomics.load(control, CONTROL_REQUESTED_GEN)
    ) {
      const m = await nextMessage();
      if (m.type !== "plan") continue;
      Atomics.store(control, CONTROL_PHASE, PHASE_APPLYING);
      beat();
      try {
        // Frames and datagrams still batched go out before anything changes.
        if (state !== null) flush(state);
        // worker_cpus: this thread runs alone on its CPU, or anywhere the process may.
        const cpus = m.plan.workerCpus ?? [];
        const cpu = cpus.length > 0 ? cpus[id % cpus.length] : null;
        if (cpu !== pinnedCpu) {
          pinThread(cpu);
          pinnedCpu = cpu;
        }
        if ("all" in m.rules) {
          rulePlans.clear();
          for (const r of m.rules.all) rulePlans.set(r.name, r);
        } else {
          for (const name of m.rules.remove) rulePlans.delete(name);
          for (const r of m.rules.add) rulePlans.set(r.name, r);
        }
        const tables = rings.apply({ ...m.plan, rules: [...rulePlans.values()] }, m.hold);
        if (Atomics.exchange(control, CONTROL_FAULT, 0) === FAULT_FAIL_APPLY) {
          throw new Error("injected fault: the plan failed after its rings were opened");
        }
        state = new LoopState({
          bytes: rings.arena.bytes,
          view: rings.arena.view,
          inputs: tables.inputs,
          txPorts: tables.txPorts,
          routedPorts: tables.routedPorts,
          workerCounters,
          ruleCounters,
          outputCounters,
          control,
          kicker: waiter,
          periodic,
          sender,
          busyPollUs: m.plan.busyPollUs ?? 0,
          napUs: m.plan.napUs ?? 0,
          clock,
        });
        state.retiring = tables.inputs.filter((p) => p.cut === CUT_BEFORE).length;
        Atomics.store(control, CONTROL_APPLIED_GEN, m.plan.generation);
        post({
          type: "applied",
          id,
          generation: m.plan.generation,
          rings: rings.held(),
          succession: rings.succession(),
        });
      } catch (err) {
        Atomics.store(control, CONTROL_APPLIED_GEN, m.plan.generation);
        const e = err as Error & { code?: string };
        post({
          type: "plan_error",
          id,
          generation: m.plan.generation,
          message: e.message,
          code: e.code,
        });
      } finally {
        beat();
        Atomics.store(control, CONTROL_PHASE, PHASE_RUNNING);
      }
    }
  };

  /** A cut waits for its predecessors to retire before it is reported done. */
  let cutPending = false;
  let cutLate = false;
  const cutDone = (): void => {
    if (!cutPending || (state !== null && state.retiring !== 0)) return;
    cutPending = false;
    post({ type: "step_done", id, step: STEP_CUT, rings: rings.held(), late: cutLate });
  };
  /** Ring succession (succession.ts): the step the supervisor asked for, if any. */
  const succession = (): void => {
    const step = Atomics.exchange(control, CONTROL_HANDOVER, 0);
    if (step === 0) return;
    const cutUs = (control[CONTROL_CUT_SEC] >>> 0) * 1e6 + control[CONTROL_CUT_USEC];
    if (step === STEP_CUT || step === STEP_CUT_ALL) {
      const late = clock.nowUs() >= cutUs;
      const n = rings.cut(cutUs, step === STEP_CUT_ALL);
      if (state !== null) state.retiring = n;
      cutPending = true;
      cutLate = late;
      cutDone();
    } else if (step === STEP_RELEASE) {
      const inputs = rings.release(cutUs);
      if (state !== null) {
        state.inputs = inputs;
        state.retiring = 0;
      }
      post({ type: "step_done", id, step: STEP_RELEASE, rings: rings.held() });
    }
  };

  await drainPlans();
  succession();
  for (;;) {
    if (Atomics.load(control, CONTROL_COMMAND) === COMMAND_STOP) break;
    let command: number;
    if (state === null) {
      waiter.wait(init.waitTimeoutMs);
      beat();
      command = Atomics.load(control, CONTROL_COMMAND);
    } else {
      command = forwardLoop(state, init.waitTimeoutMs);
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
      await drainPlans();
    }
    if (command === COMMAND_RETIRED) {
      (state as LoopState | null)!.inputs = rings.closeRetired();
      cutDone();
    }
    if (command === COMMAND_HANDOVER) {
      Atomics.compareExchange(control, CONTROL_COMMAND, COMMAND_HANDOVER, COMMAND_RUN);
    }
    succession();
  }

  // Drain: forward what the rings already hold (the supervisor has left the
  // groups, so little more arrives), then final statistics, rings released.
  if (state !== null) drain(state, 2 * rings.maxRetireMs());
  periodic();
  rings.releaseAll();
  waiter.close();
  post({ type: "stopped", id });
  self.close();
}

main().catch((err) => {
  const e = err as Error & { code?: string; op?: string };
  post({ type: "fatal", id: workerId, message: e.message, code: e.code, op: e.op });
  self.close();
});
