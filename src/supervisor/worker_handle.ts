/**
 * One worker as the pool sees it: its thread, the shared blocks it writes
 * (control words, counters, streams), what it last acknowledged, and the
 * record of the restart that started it. A restart replaces the handle,
 * never reuses it; the counters of a handle that died or left are added to
 * the pool's archive once (archiveCounters), so totals never go backwards.
 */
import { MAX_STREAMS, STREAM_BLOCK_SLOTS } from "../streams/stream_slots.ts";
import { CONTROL_WORDS, type HeldRing } from "../dataplane/channel.ts";
import type { WorkerPlan } from "../dataplane/plan_types.ts";
import {
  MAX_OUTPUT_SLOTS,
  MAX_RULE_SLOTS,
  OUTPUT_SLOTS,
  RULE_SLOTS,
  WORKER_SLOTS,
} from "../stats/registry.ts";

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
  /** Rings of a succession it reported with that plan (predecessors and held successors). */
  succession = 0;
  /** Started as a standby (standby.ts): idle until activated. */
  standby = false;
  /** Its counters were added to the pool's archive (it died or left). */
  archived = false;
  /** Succession steps waiting for the worker's step_done. */
  readonly steps = new Map<number, () => void>();
  readonly control = new Int32Array(new SharedArrayBuffer(CONTROL_WORDS * 4));
  readonly counters = new Float64Array(new SharedArrayBuffer(WORKER_SLOTS * 8));
  readonly ruleCounters = new Float64Array(new SharedArrayBuffer(MAX_RULE_SLOTS * RULE_SLOTS * 8));
  readonly outputCounters = new Float64Array(
    new SharedArrayBuffer(MAX_OUTPUT_SLOTS * OUTPUT_SLOTS * 8),
  );
  /** Inspected streams' blocks (src/streams/stream_slots.ts), written by this worker. */
  readonly streamCounters = new Float64Array(
    new SharedArrayBuffer(MAX_STREAMS * STREAM_BLOCK_SLOTS * 8),
  );
  readonly waiting = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  ready: Promise<void> = Promise.resolve();
  stopped: Promise<void> = Promise.resolve();
  constructor(
    readonly id: number,
    readonly restarts: number,
    /** The restart that started this worker, on the supervisor's clock (null for the first). */
    public lastRestart: RestartRecord | null = null,
  ) {}
}

/**
 * One restart as the relay itself timed it (supervisor clock, ms since the
 * epoch): the faulty worker's last loop turn, when the fault was detected,
 * and when the replacement had the plan in force. A test holds what was
 * lost against this outage instead of against a wall-clock bound of its own.
 */
export interface RestartRecord {
  cause: "threw" | "crashed" | "stuck";
  last_heartbeat_at_ms: number;
  detected_at_ms: number;
  /** null until the replacement acknowledged the plan in force. */
  forwarding_at_ms: number | null;
  /** Its standby thread (ready at once: standby.ts) or a thread started then. */
  replacement?: "standby" | "new_thread";
}

/** Counters of workers that exited, so totals never go backwards. */
export interface ArchivedCounters {
  worker: Float64Array;
  rule: Float64Array;
  output: Float64Array;
  /** Streams' blocks of exited workers, summed (their counters; gauges and state are read live). */
  stream: Float64Array;
}

/** An empty archive, sized for every slot. */
export function emptyArchive(): ArchivedCounters {
  return {
    worker: new Float64Array(WORKER_SLOTS),
    rule: new Float64Array(MAX_RULE_SLOTS * RULE_SLOTS),
    output: new Float64Array(MAX_OUTPUT_SLOTS * OUTPUT_SLOTS),
    stream: new Float64Array(MAX_STREAMS * STREAM_BLOCK_SLOTS),
  };
}

/** Adds a handle's counters to the archive, once (a second call does nothing). */
export function archiveCounters(h: WorkerHandle, into: ArchivedCounters): void {
  if (h.archived) return;
  h.archived = true;
  addInto(into.worker, h.counters);
  addInto(into.rule, h.ruleCounters);
  addInto(into.output, h.outputCounters);
  addInto(into.stream, h.streamCounters);
}

function addInto(into: Float64Array, from: Float64Array): void {
  for (let i = 0; i < into.length; i++) into[i] += from[i];
}
