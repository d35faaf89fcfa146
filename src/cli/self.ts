/** `mcr --help` and `mcr --version`. */
import { VERSION } from "../version.ts";
import { buildInfo } from "../version.ts";

/** `mcr 0.1.0 (commit abc1234, deno 2.9.6, liburing 2.3)` */
export async function versionText(): Promise<string> {
  const info = await buildInfo();
  return `mcr ${VERSION} (commit ${info.commit}, deno ${info.deno}, liburing ${info.liburing})`;
}

/** Version facts as one object (`mcr version --json`). */
export async function versionJson(): Promise<Record<string, string>> {
  const info = await buildInfo();
  return { version: VERSION, commit: info.commit, deno: info.deno, liburing: info.liburing };
}

/** The command overview. */
export function helpText(commands: Record<string, { summary: string }>): string {
  const width = Math.max(...Object.keys(commands).map((k) => k.length));
  return [
    `mcr ${VERSION}: a userspace multicast relay (AF_PACKET rings, Layer 2)`,
    "",
    "usage: mcr <command> [options]     (mcr <command> --help for its options)",
    "",
    "commands:",
    ...Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    "",
    "  --version           print version, commit, Deno and liburing versions",
    "  --help              this text",
  ].join("\n");
}
