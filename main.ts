/**
 * mcr: a userspace multicast relay. This file only parses the command name
 * and dispatches to src/cli/<command>.ts.
 */
import { runCli } from "./src/cli/dispatch.ts";

if (import.meta.main) {
  Deno.exit(await runCli(Deno.args));
}
