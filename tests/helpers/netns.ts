/**
 * Namespace tests: registration with a capability probe.
 *
 * - Without the rights to build namespaces and open packet sockets (an
 *   unprivileged developer machine) they are skipped; under CI (CI=true) a
 *   missing right is a failure, not a skip. The same holds for io_uring,
 *   which the relay cannot run without.
 * - A test that needs an optional kernel feature names it (`needs`); on a
 *   kernel without it the test is registered as ignored, its name carrying
 *   `[skipped, needs CAP: reason]` (src/tools/kernel_probe.ts), so it takes
 *   no time and the runner's summary lists it (tests/run_all.sh).
 */
import { checkCapabilities } from "../../src/cli/caps.ts";
import {
  firstMissing,
  kernelCapabilities,
  type KernelCapability,
} from "../../src/tools/kernel_probe.ts";

let probe: { ok: boolean; reason?: string } | null = null;

/** Can this process build network namespaces, open packet sockets and run the relay? (cached) */
export function rootTestsEnabled(): { ok: boolean; reason?: string } {
  if (probe) return probe;
  const caps = checkCapabilities(["CAP_NET_ADMIN", "CAP_NET_RAW"]);
  if (!caps.ok) return probe = { ok: false, reason: caps.message };
  const name = `mcrprobe${Deno.pid}`;
  const add = new Deno.Command("ip", { args: ["netns", "add", name], stderr: "piped" })
    .outputSync();
  if (!add.success) {
    return probe = {
      ok: false,
      reason: `ip netns add failed: ${new TextDecoder().decode(add.stderr).trim()}`,
    };
  }
  new Deno.Command("ip", { args: ["netns", "del", name] }).outputSync();
  const uring = kernelCapabilities().io_uring;
  if (!uring.ok) return probe = { ok: false, reason: `the relay cannot run: ${uring.reason}` };
  return probe = { ok: true };
}

function isCI(): boolean {
  const ci = Deno.env.get("CI");
  return ci !== undefined && ci !== "" && ci !== "false" && ci !== "0";
}

/** The suffix a test skipped for a missing capability carries in its name (tests/run_all.sh reads it). */
export function skipSuffix(capability: string, reason: string): string {
  return ` [skipped, needs ${capability}: ${reason}]`;
}

export interface RootTestOptions {
  timeoutMs?: number;
  /** Optional kernel features the test cannot run without: skipped, with the reason, where absent. */
  needs?: KernelCapability[];
}

/** Registers a namespace test: runs when capable; under CI it also runs (and fails) when not. */
export function rootTest(
  name: string,
  fn: () => void | Promise<void>,
  opts: RootTestOptions = {},
): void {
  const p = rootTestsEnabled();
  const missing = p.ok && opts.needs ? firstMissing(opts.needs) : null;
  if (missing !== null) {
    Deno.test({
      name: name + skipSuffix(missing.capability, missing.reason),
      ignore: true,
      fn() {},
    });
    return;
  }
  Deno.test({
    name,
    ignore: !p.ok && !isCI(),
    sanitizeResources: false,
    sanitizeOps: false,
    fn: async () => {
      if (!p.ok) throw new Error(`namespace test cannot run: ${p.reason}`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const limit = opts.timeoutMs ?? 180_000;
      try {
        await Promise.race([
          Promise.resolve().then(fn),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`timed out after ${limit} ms`)), limit);
          }),
        ]);
      } finally {
        clearTimeout(timer);
      }
    },
  });
}
