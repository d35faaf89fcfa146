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

/** True inside a binary made by `deno compile`. */
export function isCompiled(): boolean {
  return Deno.build.standalone;
}

/**
 * The argv that runs this same program with another subcommand (the demo,
 * tests and benchmarks start `mcr run`, `mcr gen`, `mcr sink` this way).
 * Compiled, the executable is the program; under `deno run` it is deno
 * with main.ts and the development permissions.
 */
export function selfCommand(
  args: string[],
  compiled = isCompiled(),
  execPath = Deno.execPath(),
): string[] {
  if (compiled) return [execPath, ...args];
  const main = new URL("../main.ts", import.meta.url).pathname;
  return [execPath, "run", ...DEV_RUN_FLAGS, main, ...args];
}
