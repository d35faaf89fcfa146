/**
 * SIGUSR1 must not open a debugger. The Deno runtime (2.9.2 and later) installs a SIGUSR1
 * handler 500 ms after it starts; on the signal it opens its inspector on 127.0.0.1:9229, a
 * debugger without authentication through which any local user could run code as this process
 * (root, for the relay). Deno has no switch to turn that off, so mcr takes the signal back:
 * ignored from the first moment (a SIGUSR1 does not end the process either), and the runtime's
 * handler replaced by "ignore" as soon as it appears. Every command does this before it runs.
 */
import { ignoreSignal, SIGUSR1 } from "../../ffi/process.ts";

/** What became of the runtime's SIGUSR1 handler. */
export type Sigusr1Outcome = "replaced" | "never installed";

/** How long to watch for the runtime's handler (it comes 500 ms after the runtime starts), and how often to look. */
const WATCH_MS = 5000;
const EVERY_MS = 5;

let watching: Promise<Sigusr1Outcome> | null = null;

/**
 * Ignores SIGUSR1 now and again every EVERY_MS until the runtime's handler has been seen and
 * replaced (or WATCH_MS passed without one). The timer does not keep the process alive; a
 * second call in the same process shares the first one's watch. Throws (NativeError, or the
 * library's load error) when the signal cannot be set.
 */
export function refuseDebuggerSignal(): Promise<Sigusr1Outcome> {
  watching ??= startWatch();
  return watching;
}

function startWatch(): Promise<Sigusr1Outcome> {
  const done = Promise.withResolvers<Sigusr1Outcome>();
  if (ignoreSignal(SIGUSR1) === "handler") {
    done.resolve("replaced");
    return done.promise;
  }
  const until = performance.now() + WATCH_MS;
  const timer = setInterval(() => {
    let outcome: Sigusr1Outcome | null = null;
    try {
      if (ignoreSignal(SIGUSR1) === "handler") outcome = "replaced";
      else if (performance.now() >= until) outcome = "never installed";
    } catch (err) {
      clearInterval(timer);
      done.reject(err);
      return;
    }
    if (outcome) {
      clearInterval(timer);
      done.resolve(outcome);
    }
  }, EVERY_MS);
  Deno.unrefTimer(timer);
  return done.promise;
}
