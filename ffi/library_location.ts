/**
 * Where the native library is. Everything that differs between `deno run`
 * and the compiled single executable lives here.
 *
 * (Stub: development layout only; the packaging work replaces it with the
 * embedded-copy extraction.)
 */

/** Returns the path of libmcr.so to load: MCR_LIB, else build/libmcr.so next to the sources. */
export function locateLibrary(): string {
  const fromEnv = Deno.env.get("MCR_LIB");
  if (fromEnv) return fromEnv;
  return new URL("../build/libmcr.so", import.meta.url).pathname;
}
