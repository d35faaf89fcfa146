/**
 * systemd integration (sd_notify(3), through libmcr): READY=1 once the
 * configured rules are in force, RELOADING=1 with MONOTONIC_USEC while a
 * SIGHUP reload runs, STOPPING=1 on the way out, and WATCHDOG=1 every half
 * WatchdogSec — but only while every worker's loop is turning, so a wedged
 * data plane stops the pings and systemd restarts the relay. Outside
 * systemd ($NOTIFY_SOCKET unset) every call is a no-op.
 */
import { monotonicUs, notifySystemd } from "../../ffi/process.ts";

export interface Notifier {
  ready(status: string): void;
  reloading(): void;
  stopping(): void;
  /** Starts the watchdog pings if systemd asked for them; returns a function that stops them. */
  watchdog(healthy: () => boolean): () => void;
}

export function systemdNotifier(
  log: { warn(msg: string, fields?: Record<string, unknown>): void },
  env: { get(key: string): string | undefined } = Deno.env,
  send: (state: string) => boolean = notifySystemd,
): Notifier {
  const tell = (state: string): void => {
    try {
      send(state);
    } catch (err) {
      log.warn("cannot notify systemd", { error: (err as Error).message });
    }
  };
  return {
    ready: (status) => tell(`READY=1\nSTATUS=${status.replaceAll("\n", " ")}`),
    reloading: () => tell(`RELOADING=1\nMONOTONIC_USEC=${Math.floor(monotonicUs())}`),
    stopping: () => tell("STOPPING=1"),
    watchdog(healthy) {
      const usec = Number(env.get("WATCHDOG_USEC") ?? "");
      const pid = env.get("WATCHDOG_PID");
      if (!Number.isInteger(usec) || usec <= 0 || (pid !== undefined && pid !== String(Deno.pid))) {
        return () => {};
      }
      const timer = setInterval(() => {
        if (healthy()) tell("WATCHDOG=1");
      }, Math.max(50, Math.floor(usec / 2000)));
      return () => clearInterval(timer);
    },
  };
}
