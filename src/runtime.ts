/**
 * Everything that differs between `deno run main.ts` and the compiled
 * single executable, in one place.
 */

/** Permission flags a development `deno run` of mcr uses. */
export const DEV_RUN_FLAGS = [
  "--allow-ffi",
  "--allow-read",
  "--allow-write",
  "--allow-net",
  "--allow-env",
  "--allow-run",
  "--allow-sys",
];

/** True inside a binary made by `deno compile` (its main module is not a file URL on disk). */
export function isCompiled(): boolean {
  const main = Deno.mainModule;
  if (!main.startsWith("file://")) return true;
  try {
    Deno.statSync(new URL(main));
    // deno compile serves modules from a virtual file system under the binary's temp root.
    return main.includes("/deno-compile-");
  } catch {
    return true;
  }
}

/** The argv that runs this same program with another subcommand (demo, tests, benchmarks). */
export function selfCommand(args: string[]): string[] {
  if (isCompiled()) return [Deno.execPath(), ...args];
  const main = new URL("../main.ts", import.meta.url).pathname;
  return [Deno.execPath(), "run", ...DEV_RUN_FLAGS, main, ...args];
}
