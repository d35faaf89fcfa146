/**
 * A worker whose heartbeat is late is stuck, or starved: runnable but not
 * given a CPU (a loaded host, a higher-priority task on its CPU). Restarting
 * a starved worker only risks packets, so before the watchdog fences a late
 * worker it asks the scheduler about the worker's thread
 * (/proc/self/task/TID/stat, read natively): a thread that is runnable ('R')
 * and had almost no CPU since the heartbeat was first late is starved and
 * is given time (up to STARVED_MAX_MS); one that had CPU and still did not
 * beat is spinning (a hang), and one asleep ('S', 'D') is blocked: both are
 * stuck. When the thread cannot be read (no id yet), late is stuck, as before.
 */

/** A thread as the scheduler sees it (ffi/process.ts threadState). */
export type ThreadState = (tid: number) => { state: string; cpuMs: number } | null;

/** A late worker is looked at first when its heartbeat is this share of the limit old. */
const FIRST_LOOK = 0.5;
/** Starved: less CPU than this share of the time since the first look. */
const STARVED_CPU_SHARE = 0.25;
/** A worker starved longer than this is restarted anyway (it is no use where it is). */
export const STARVED_MAX_MS = 10_000;

interface Look {
  /** The heartbeat this look is about (a new beat starts a new episode). */
  heartbeat: number;
  at: number;
  cpuMs: number;
  /** Told in the log already (once per episode). */
  told: boolean;
}

export type Verdict = "fine" | "starved" | "stuck";

export class StarvationJudge {
  #looks = new Map<number, Look>();

  constructor(private read: ThreadState) {}

  /**
   * Judges worker `id` (thread `tid`, 0: unknown) whose heartbeat `hb` is
   * `age` ms old at `now`, against `limit`: fine (not late yet), starved, or stuck.
   */
  judge(id: number, tid: number, hb: number, now: number, limit: number): Verdict {
    const age = now - hb;
    let look = this.#looks.get(id);
    if (look !== undefined && look.heartbeat !== hb) {
      this.#looks.delete(id); // it beat since: a new episode
      look = undefined;
    }
    if (age < FIRST_LOOK * limit) return "fine";
    if (tid <= 0) return age > limit ? "stuck" : "fine";
    if (look === undefined) {
      const s = this.read(tid);
      if (s === null) return age > limit ? "stuck" : "fine";
      look = { heartbeat: hb, at: now, cpuMs: s.cpuMs, told: false };
      this.#looks.set(id, look);
    }
    if (age <= limit) return "fine";
    const s = this.read(tid);
    if (s === null) return "stuck";
    const elapsed = now - look.at;
    const starved = s.state === "R" && elapsed > 0 &&
      s.cpuMs - look.cpuMs < STARVED_CPU_SHARE * elapsed;
    if (!starved || age > STARVED_MAX_MS) return "stuck";
    return "starved";
  }

  /** True the first time an episode of worker `id` is judged starved (to log it once). */
  firstTelling(id: number): boolean {
    const look = this.#looks.get(id);
    if (look === undefined || look.told) return false;
    look.told = true;
    return true;
  }

  forget(id: number): void {
    this.#looks.delete(id);
  }
}
