/**
 * Namespace tests: registration with a capability probe. On a developer's
 * unprivileged machine they are skipped; under CI (CI=true) a missing
 * capability is a failure, not a skip.
 */
import { checkCapabilities } from "../../src/cli/caps.ts";

let probe: { ok: boolean; reason?: string } | null = null;

/** Can this process build network namespaces and open packet sockets? (cached) */
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
  return probe = { ok: true };
}

function isCI(): boolean {
  const ci = Deno.env.get("CI");
  return ci !== undefined && ci !== "" && ci !== "false" && ci !== "0";
}

/** Registers a namespace test: runs when capable; under CI it also runs (and fails) when not. */
export function rootTest(
  name: string,
  fn: () => Promise<void>,
  opts: { timeoutMs?: number } = {},
): void {
  const p = rootTestsEnabled();
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
          fn(),
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
