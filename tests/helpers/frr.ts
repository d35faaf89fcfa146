/**
 * A private FRR router (zebra + pimd; pimd also speaks IGMP and MSDP) inside a
 * network namespace a test created. Everything an instance needs lives in its
 * own temp dir: config files, pid files, the zserv socket (-z), the vty
 * sockets (--vty_socket), logs. /etc/frr and /var/run/frr are not used, so
 * several instances (one per namespace) can run at once.
 *
 * The daemons are child processes of the test (no -d): stop() kills them
 * (SIGTERM, SIGKILL after 2 s) and waits for them. As a last resort an
 * "unload" handler SIGKILLs whatever is still running when Deno exits.
 *
 * Notes on FRR 8.4 (Debian package, built with --enable-vty-group=frrvty):
 *  - a daemon started with `-u root -g root` exits at once with
 *    "privs_init: user(root) is not part of vty group specified(frrvty)".
 *    `-u root -g frrvty` passes that check (the daemon still runs as uid/gid 0).
 *  - the config is applied after both daemons are up with
 *    `vtysh --config_dir <dir> --vty_socket <dir> -f <dir>/frr.conf`, which
 *    sends each line to the daemon that owns it (as the integrated frr.conf).
 *  - `-P 0` turns off the TCP vty listener.
 *  - each daemon keeps a crash-log dir /var/tmp/frr/<daemon>.<pid>; it removes
 *    it on a clean exit, stop() removes it after a SIGKILL.
 */

const ZEBRA = "/usr/lib/frr/zebra";
const PIMD = "/usr/lib/frr/pimd";
const VTYSH = "/usr/bin/vtysh";

export interface FrrRouter {
  /** The namespace the daemons run in. */
  ns: string;
  /** The instance's private temp dir (config, sockets, pid files, logs). */
  dir: string;
  /**
   * Runs one vtysh command (`vtysh -c cmd`) and returns its output; throws
   * when vtysh exits non-zero. Several commands may be given separated by
   * newlines, e.g. "configure terminal\ninterface veth0\nip pim hello 1 3".
   */
  vtysh(cmd: string): Promise<string>;
  /** vtysh(cmd) parsed as JSON; cmd must end in "json". */
  json<T = unknown>(cmd: string): Promise<T>;
  /** Kills both daemons, waits for them, removes the temp dir. Idempotent. */
  stop(): Promise<void>;
  /** The daemons' log files and stdout/stderr, labelled per daemon. */
  log(): Promise<string>;
}

/** Are FRR's zebra, pimd and vtysh installed? */
export function frrAvailable(): boolean {
  try {
    return [ZEBRA, PIMD, VTYSH].every((p) => Deno.statSync(p).isFile);
  } catch {
    return false;
  }
}

interface Daemon {
  name: "zebra" | "pimd";
  child: Deno.ChildProcess;
  pid: number;
  exited: boolean;
  status: Promise<Deno.CommandStatus>;
  output: string;
  reader: Promise<void>;
}

/** Daemons still running, SIGKILLed if Deno exits before stop(). */
const live = new Set<Daemon>();
let unloadHooked = false;
function hookUnload(): void {
  if (unloadHooked) return;
  unloadHooked = true;
  globalThis.addEventListener("unload", () => {
    for (const d of live) {
      try {
        d.child.kill("SIGKILL");
      } catch { /* gone */ }
    }
  });
}

/** The group that lets root pass FRR's vty-group check. */
function daemonGroup(): string {
  try {
    const groups = Deno.readTextFileSync("/etc/group");
    if (/^frrvty:/m.test(groups)) return "frrvty";
  } catch { /* no /etc/group: fall through */ }
  return "root";
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function readText(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return "";
  }
}

/**
 * Starts zebra and pimd in `ns` with the frr.conf text `config` and resolves
 * once pimd answers `show ip pim interface json`. On any failure the daemons
 * are stopped and the error carries their logs.
 */
export async function startFrr(
  opts: { ns: string; config: string; name?: string },
): Promise<FrrRouter> {
  const { ns } = opts;
  const name = (opts.name ?? ns).replace(/[^A-Za-z0-9_.-]/g, "_");
  hookUnload();
  // FRR's compiled-in state dir; nothing of ours goes there.
  await Deno.mkdir("/var/run/frr", { recursive: true }).catch(() => {});
  const dir = await Deno.makeTempDir({ prefix: `frr-${name}-` });
  const zserv = `${dir}/zserv.api`;
  const group = daemonGroup();
  const daemons: Daemon[] = [];
  let logCache: string | null = null;

  const collectLog = async (): Promise<string> => {
    if (logCache !== null) return logCache;
    const parts: string[] = [];
    for (const n of ["zebra", "pimd"] as const) {
      const d = daemons.find((x) => x.name === n);
      const file = await readText(`${dir}/${n}.log`);
      const out = d?.output ?? "";
      parts.push(
        `--- ${n} (${name}, ns ${ns}${d ? `, pid ${d.pid}` : ", not started"}) ---\n` +
          (file ? file : "") + (out ? `[stdout/stderr]\n${out}` : ""),
      );
    }
    return parts.join("\n");
  };

  const spawn = (n: "zebra" | "pimd"): Daemon => {
    Deno.writeTextFileSync(`${dir}/${n}.conf`, ""); // the real config goes in via vtysh -f
    const args = [
      "netns",
      "exec",
      ns,
      n === "zebra" ? ZEBRA : PIMD,
      "-u",
      "root",
      "-g",
      group,
      "-z",
      zserv,
      "--vty_socket",
      dir,
      "-i",
      `${dir}/${n}.pid`,
      "-f",
      `${dir}/${n}.conf`,
      "-P",
      "0",
      "--log",
      `file:${dir}/${n}.log`,
    ];
    const child = new Deno.Command("ip", {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const d: Daemon = {
      name: n,
      child,
      pid: child.pid, // `ip netns exec` execs the daemon: same pid
      exited: false,
      status: child.status,
      output: "",
      reader: Promise.resolve(),
    };
    const drain = async (s: ReadableStream<Uint8Array>) => {
      try {
        for await (const chunk of s.pipeThrough(new TextDecoderStream())) d.output += chunk;
      } catch { /* stream closed */ }
    };
    d.reader = Promise.all([drain(child.stdout), drain(child.stderr)]).then(() => {});
    d.status = child.status.then((s) => {
      d.exited = true;
      live.delete(d);
      return s;
    });
    live.add(d);
    daemons.push(d);
    return d;
  };

  const runVtysh = async (
    args: string[],
  ): Promise<{ ok: boolean; stdout: string; out: string }> => {
    const r = await new Deno.Command(VTYSH, {
      args: ["--config_dir", dir, "--vty_socket", dir, ...args],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    const stdout = dec.decode(r.stdout);
    return { ok: r.success, stdout, out: stdout + dec.decode(r.stderr) };
  };

  /** Polls until `ready()` or `ms` elapse; throws if a daemon exits meanwhile. */
  const waitFor = async (what: string, ms: number, ready: () => boolean | Promise<boolean>) => {
    const deadline = Date.now() + ms;
    for (;;) {
      const dead = daemons.find((d) => d.exited);
      if (dead) {
        const s = await dead.status;
        throw new Error(
          `${dead.name} exited (code ${s.code}, signal ${s.signal}) while waiting for ${what}`,
        );
      }
      if (await ready()) return;
      if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
      await sleep(100);
    }
  };

  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    if (stopping) return stopping;
    stopping = (async () => {
      // pimd first, so it can say goodbye to zebra.
      for (const d of [...daemons].reverse()) {
        if (!d.exited) {
          try {
            d.child.kill("SIGTERM");
          } catch { /* gone */ }
          let timer: ReturnType<typeof setTimeout> | undefined;
          const done = await Promise.race([
            d.status.then(() => true),
            new Promise<boolean>((r) => timer = setTimeout(() => r(false), 2_000)),
          ]);
          clearTimeout(timer);
          if (!done) {
            try {
              d.child.kill("SIGKILL");
            } catch { /* gone */ }
          }
        }
        await d.status;
        await d.reader;
        live.delete(d);
        // Left behind only when the daemon did not exit cleanly.
        await Deno.remove(`/var/tmp/frr/${d.name}.${d.pid}`, { recursive: true }).catch(() => {});
      }
      logCache = await collectLog();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    })();
    return stopping;
  };

  const exec = async (cmd: string): Promise<{ stdout: string; out: string }> => {
    if (stopping) throw new Error(`FRR ${name} is stopped`);
    const r = await runVtysh(["-c", cmd]);
    if (!r.ok) throw new Error(`vtysh (${name}) "${cmd}" failed:\n${r.out}`);
    return r;
  };

  const vtysh = async (cmd: string): Promise<string> => (await exec(cmd)).out;

  const json = async <T = unknown>(cmd: string): Promise<T> => {
    const r = await exec(cmd);
    try {
      return JSON.parse(r.stdout) as T;
    } catch {
      throw new Error(`vtysh (${name}) "${cmd}" did not print JSON:\n${r.out}`);
    }
  };

  try {
    Deno.writeTextFileSync(`${dir}/vtysh.conf`, ""); // keeps vtysh away from /etc/frr/vtysh.conf
    Deno.writeTextFileSync(
      `${dir}/frr.conf`,
      opts.config.endsWith("\n") ? opts.config : opts.config + "\n",
    );

    spawn("zebra");
    await waitFor("zebra's sockets", 10_000, () => exists(zserv) && exists(`${dir}/zebra.vty`));
    spawn("pimd");
    await waitFor("pimd's vty socket", 10_000, () => exists(`${dir}/pimd.vty`));

    const applied = await runVtysh(["-f", `${dir}/frr.conf`]);
    if (!applied.ok) throw new Error(`applying the config failed:\n${applied.out}`);

    let last = "";
    await waitFor("pimd to answer `show ip pim interface json`", 10_000, async () => {
      const r = await runVtysh(["-d", "pimd", "-c", "show ip pim interface json"]);
      last = r.out;
      if (!r.ok) return false;
      try {
        JSON.parse(r.stdout);
        return true;
      } catch {
        return false;
      }
    }).catch((err) => {
      throw new Error(`${err.message}; last answer:\n${last}`);
    });
  } catch (err) {
    await stop();
    const msg = err instanceof Error ? err.message : String(err);
    throw new Error(`startFrr(${name} in ${ns}): ${msg}\n${logCache ?? ""}`);
  }

  return { ns, dir, vtysh, json, stop, log: collectLog };
}
