/** Version facts for `mcr --version` and GET /api/v1/version. */
import denoJson from "../deno.json" with { type: "json" };

export const VERSION: string = denoJson.version;

export interface BuildInfo {
  version: string;
  commit: string;
  deno: string;
  liburing: string;
}

let cached: BuildInfo | null = null;

/** Reads the commit (build/build_info.json when compiled, else git) and the native library's liburing version. */
export async function buildInfo(): Promise<BuildInfo> {
  if (cached) return cached;
  let commit = "unknown";
  try {
    const info = JSON.parse(
      await Deno.readTextFile(new URL("../build/build_info.json", import.meta.url)),
    );
    commit = info.commit ?? commit;
  } catch {
    try {
      const out = await new Deno.Command("git", {
        args: ["rev-parse", "--short", "HEAD"],
        cwd: new URL("..", import.meta.url).pathname,
        stdout: "piped",
        stderr: "null",
      }).output();
      if (out.success) commit = new TextDecoder().decode(out.stdout).trim();
    } catch { /* no git */ }
  }
  let liburing: string;
  try {
    const { loadLibrary } = await import("../ffi/library.ts");
    const v = loadLibrary().mcr_liburing_version();
    liburing = `${Math.floor(v / 1000)}.${v % 1000}`;
  } catch (err) {
    liburing = `unavailable (${(err as Error).message.split("\n")[0]})`;
  }
  cached = { version: VERSION, commit, deno: Deno.version.deno, liburing };
  return cached;
}
