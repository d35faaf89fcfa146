/**
 * `mcr reload`: the running relay reads its config file again and applies it
 * (POST /api/v1/config/reload), and this command waits for the answer: exit
 * 0 once the file is in force, 1 when it is refused (every issue printed),
 * 3 when the relay cannot be reached. What systemd's ExecReload runs, so
 * `systemctl reload mcr` fails when the reload does (a signal would not say).
 */
import { parseRemote } from "./args.ts";
import {
  answerProblem,
  ApiUnreachable,
  callApi,
  clientOptions,
  fail,
  localProblem,
} from "./client.ts";

export const USAGE = "usage: mcr reload [--api URL] [--token-file FILE] [--json]\n" +
  "  The running relay reads its config file again; exits 0 once it is in force, 1 if refused.";

export async function reloadCommand(argv: string[]): Promise<number> {
  const p = parseRemote("mcr reload", argv, USAGE);
  if (typeof p === "number") return p;
  try {
    const res = await callApi(clientOptions(p.values), "POST", "/api/v1/config/reload");
    if (res.status >= 400) {
      return fail("mcr reload: refused", p.values.json, answerProblem(res.status, res.body));
    }
    if (p.values.json) console.log(JSON.stringify(res.body));
    if (!p.values.json) {
      const r = res.body as { added: string[]; removed: string[]; changed: string[] };
      console.log(
        `reloaded: ${r.added.length} added, ${r.removed.length} removed, ${r.changed.length} changed`,
      );
    }
    return 0;
  } catch (err) {
    const unreachable = err instanceof ApiUnreachable;
    return fail(
      "mcr reload",
      p.values.json,
      localProblem(unreachable ? "unreachable" : "failed", (err as Error).message),
    );
  }
}
