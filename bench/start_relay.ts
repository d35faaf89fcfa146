/**
 * Starts `mcr run --config FILE` in a namespace and resolves once its API
 * listens; afterwards its stderr keeps being read (so the relay never blocks
 * on a full pipe) and each chunk goes to `onOutput`. Shared by the benches
 * that measure a relay from outside (idle_bench.ts, scale_bench.ts).
 */
import { selfCommand } from "../src/runtime.ts";
import type { Topology } from "../src/tools/topology.ts";

export async function startRelayListening(
  t: Topology,
  ns: string,
  configPath: string,
  onOutput: (chunk: string) => void = () => {},
  env: Record<string, string> = {},
): Promise<Deno.ChildProcess> {
  // MCR_BENCH_V8_FLAGS: V8 flags for the relay alone (an A/B of a flag, e.g. heap sizing).
  const v8 = Deno.env.get("MCR_BENCH_V8_FLAGS");
  const vars = Object.entries({ ...(v8 ? { DENO_V8_FLAGS: v8 } : {}), ...env }).map(([k, v]) =>
    `${k}=${v}`
  );
  const argv = selfCommand(["run", "--config", configPath]);
  const relay = t.spawn(ns, vars.length > 0 ? ["env", ...vars, ...argv] : argv, {
    stdout: "null",
    stderr: "piped",
  });
  const reader = relay.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  while (!buf.includes("API listening")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`relay exited:\n${buf}`);
    buf += value;
  }
  (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      onOutput(value);
    }
  })();
  return relay;
}
