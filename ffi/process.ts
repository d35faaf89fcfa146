/** Process facts from libmcr (c/process.c, c/notify.c): capabilities, pid liveness, the open-files limit, systemd notification. */
import { check } from "./errno.ts";
import { loadLibrary } from "./library.ts";

/** The effective capability set of this process (capget(2)); 0n if it cannot be read. */
export function effectiveCapabilities(): bigint {
  const out = new Uint32Array(2);
  if (loadLibrary().mcr_capabilities(out) < 0) return 0n;
  return (BigInt(out[1]) << 32n) | BigInt(out[0]);
}

/** Whether a process with this pid exists. */
export function processExists(pid: number): boolean {
  return loadLibrary().mcr_process_exists(pid) === 1;
}

/** SIGUSR1's number on Linux (x86-64 and arm64 alike). */
export const SIGUSR1 = 10;

/**
 * Sets a signal's disposition to ignored (sigaction(2) SIG_IGN) and says what it replaced:
 * the default action, an earlier ignore, or a handler someone had installed. Throws NativeError.
 */
export function ignoreSignal(signo: number): "default" | "ignored" | "handler" {
  const was = check(
    loadLibrary().mcr_signal_ignore(signo),
    "mcr_signal_ignore",
    `Cannot ignore signal ${signo}`,
  );
  return was === 0 ? "default" : was === 1 ? "ignored" : "handler";
}

/**
 * Raises the soft limit of open files to the hard one (the relay's rings,
 * sockets and API connections all need descriptors). Returns the new limit,
 * or a negative errno.
 */
export function raiseFileLimit(): number {
  return loadLibrary().mcr_raise_nofile();
}

/**
 * Tells systemd (sd_notify(3): READY=1, RELOADING=1, STOPPING=1, WATCHDOG=1,
 * STATUS=...) through $NOTIFY_SOCKET. Returns true when sent, false when the
 * process was not started by systemd; throws a NativeError when sending fails.
 */
export function notifySystemd(state: string): boolean {
  const bytes = new TextEncoder().encode(state);
  return check(
    loadLibrary().mcr_sd_notify(bytes, bytes.length),
    "mcr_sd_notify",
    "Cannot notify systemd",
  ) === 1;
}

/** Open file descriptors of this process (0 if they cannot be counted). */
export function openFileCount(): number {
  return Math.max(0, loadLibrary().mcr_open_fds());
}

/** CLOCK_MONOTONIC in microseconds (systemd's MONOTONIC_USEC). */
export function monotonicUs(): number {
  return loadLibrary().mcr_monotonic_us();
}

/** CLOCK_REALTIME in microseconds: the clock of the RX rings' packet timestamps (one call per batch). */
export class RealtimeClock {
  readonly #lib = loadLibrary();
  nowUs(): number {
    return this.#lib.mcr_now_us();
  }
  /** The same into into[0]: no heap number per reading (forward_loop.ts Clock). */
  read(into: Float64Array): void {
    into[0] = this.#lib.mcr_now_us();
  }
}

/** The calling thread's timer slack (ns): how late its timed sleeps may end (50 µs by default). */
export function setTimerSlack(ns: number): void {
  check(
    loadLibrary().mcr_timer_slack(ns),
    "mcr_timer_slack",
    "Cannot set the thread's timer slack",
  );
}

/** Pins the calling thread to `cpu`, or (null) gives it back the process's CPUs. Throws NativeError (EINVAL: no such CPU). */
export function pinThread(cpu: number | null): void {
  check(
    loadLibrary().mcr_pin_thread(cpu ?? -1),
    "mcr_pin_thread",
    cpu === null ? "Cannot unpin the worker thread" : `Cannot pin the worker thread to CPU ${cpu}`,
  );
}

/**
 * Runs the calling thread SCHED_FIFO at `priority` (1-99), or (0) under the ordinary policy.
 * Throws NativeError (EPERM: no CAP_SYS_NICE and no RLIMIT_RTPRIO allowing it).
 */
export function setThreadPriority(priority: number): void {
  check(
    loadLibrary().mcr_thread_priority(priority),
    "mcr_thread_priority",
    priority === 0
      ? "Cannot give the worker thread the ordinary scheduling policy back"
      : `Cannot run the worker thread at real-time priority ${priority} (SCHED_FIFO needs CAP_SYS_NICE)`,
  );
}

/** Names the calling thread (top -H, /proc/PID/task/TID/comm); at most 15 bytes are kept. */
export function setThreadName(name: string): void {
  loadLibrary().mcr_thread_name(new TextEncoder().encode(name.slice(0, 15) + "\0"));
}

/** The calling thread's kernel id. */
export function threadId(): number {
  return loadLibrary().mcr_thread_id();
}

/** A thread of this process as the scheduler sees it: its state letter and CPU time had (ms); null if gone. */
export function threadState(tid: number): { state: string; cpuMs: number } | null {
  const out = new Float64Array(2);
  if (loadLibrary().mcr_thread_state(tid, out) < 0) return null;
  return { state: String.fromCharCode(out[0]), cpuMs: out[1] };
}
