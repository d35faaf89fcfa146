/**
 * The contract between the supervisor and a forwarding worker: shared
 * control words and the messages each side posts. A worker inside its loop
 * cannot receive messages, so the supervisor writes a command word and wakes
 * the worker's waiter; the worker returns between blocks and reads its inbox.
 */
import type { RulePlan, WorkerPlan } from "./plan_types.ts";

/**
 * The rules of a plan as posted: all of them, or what changed since the plan
 * the worker last applied (removals by name first, then additions). A rule
 * added to 10,000 then costs one rule's copy, not 10,001.
 */
export type RuleDelta = { all: RulePlan[] } | { add: RulePlan[]; remove: string[] };

/** Control words (Int32Array over a SharedArrayBuffer). */
export const CONTROL_COMMAND = 0; // 0 run; otherwise the loop returns it
export const CONTROL_REQUESTED_GEN = 1; // plan generation the supervisor wants applied
export const CONTROL_APPLIED_GEN = 2; // plan generation the worker has applied
export const CONTROL_PHASE = 3; // PHASE_*: what the worker is doing (the watchdog reads it)
export const CONTROL_FAULT = 4; // FAULT_*: fault injection for tests (MCR_FAULT_INJECTION=1)
export const CONTROL_HANDOVER = 5; // STEP_*: the ring-succession step requested (succession.ts)
export const CONTROL_CUT_SEC = 6; // the cut: seconds (unsigned) and microseconds, CLOCK_REALTIME
export const CONTROL_CUT_USEC = 7;
export const CONTROL_TID = 8; // the worker thread's kernel id (the watchdog asks the scheduler about it)
export const CONTROL_WORDS = 9;

/** Ring succession steps (succession.ts): predecessors cut at the time in CONTROL_CUT_*; successors released. */
export const STEP_CUT = 1;
export const STEP_RELEASE = 2;
/** The cut for a worker that leaves the pool: every RX ring it has is a predecessor. */
export const STEP_CUT_ALL = 3;

/** The next plan fails after its rings were opened (tests roll-back of a half-done apply). */
export const FAULT_FAIL_APPLY = 1;

export const COMMAND_RUN = 0;
export const COMMAND_RECONFIGURE = 1;
export const COMMAND_STOP = 2;
/** Fault injection for tests (MCR_FAULT_INJECTION=1): make the worker throw, or hang without heartbeat. */
export const COMMAND_FAULT_THROW = 3;
export const COMMAND_FAULT_HANG = 4;
/** A ring-succession step is waiting in CONTROL_HANDOVER. */
export const COMMAND_HANDOVER = 5;
/** Returned by the loop (never written by the supervisor): predecessors retired, close them. */
export const COMMAND_RETIRED = 6;

/** Forwarding (heartbeat every loop turn, at least every wait timeout). */
export const PHASE_RUNNING = 0;
/** Applying a plan: creating rings may take long; the heartbeat beats between rings. */
export const PHASE_APPLYING = 1;

/** Messages from the supervisor. */
export type ToWorker =
  | {
    type: "init";
    id: number;
    control: SharedArrayBuffer;
    workerCounters: SharedArrayBuffer;
    ruleCounters: SharedArrayBuffer;
    outputCounters: SharedArrayBuffer;
    /** Inspected streams' blocks (src/streams/stream_slots.ts). */
    streamCounters: SharedArrayBuffer;
    waitTimeoutMs: number;
    /** A standby (src/supervisor/standby.ts): ready, then idle until "activate" (or "stop"). */
    standby?: boolean;
  }
  | { type: "activate" }
  | { type: "stop" }
  /**
   * `hold`: interfaces read (by this or another worker) under the previous
   * plan: a ring newly opened on one of them waits for the succession's
   * release (succession.ts) instead of forwarding at once.
   */
  | { type: "plan"; plan: WorkerPlan; rules: RuleDelta; hold: number[] };

/** One ring or socket a worker holds, for introspection (no addresses: src/ never sees one). */
export interface HeldRing {
  kind: "rx" | "tx" | "routed";
  ifindex: number;
  bytes: number;
}

/** Messages to the supervisor. */
export type FromWorker =
  /** Native handles of the worker's arena and waiter: what the supervisor fences if the worker is stuck. */
  | { type: "ready"; id: number; waiterHandle: number; arenaHandle: number }
  /**
   * `succession`: rings waiting for a cut or a release (predecessors and held successors).
   * `rehearsal`: with the worker's first plan, what it forwarded over stand-in rings first (rehearsal.ts).
   */
  | {
    type: "applied";
    id: number;
    generation: number;
    rings: HeldRing[];
    succession: number;
    rehearsal?: { packets: number; matched: number; copies: number; ms: number };
  }
  /** A succession step done: after a cut, every predecessor retired and closed; after a release, successors read. */
  /** `late`: the cut was taken after its time had passed (packets near it may have gone out twice). */
  | { type: "step_done"; id: number; step: number; rings: HeldRing[]; late?: boolean }
  | { type: "plan_error"; id: number; generation: number; message: string; code?: string }
  | { type: "fatal"; id: number; message: string; code?: string; op?: string }
  | { type: "stopped"; id: number };
