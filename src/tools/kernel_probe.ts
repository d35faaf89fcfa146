/**
 * What the running kernel can do, probed by trying it: kernels of the same
 * version string are built with different options (FACTS: one machine of a
 * kind lacks CONFIG_IP_MROUTE, CONFIG_VLAN_8021Q and CONFIG_NET_SCH_NETEM),
 * and so are users' hosts. The namespace tests and the benchmarks ask this
 * module before they use an optional feature, and skip with its reason.
 *
 * Every probe runs in a throw-away network namespace (removed at once) and
 * either succeeds or names what failed. MCR_KERNEL_LACKS=cap1,cap2 makes
 * probe results report those capabilities missing (for tests of the skip
 * path); MCR_KERNEL_CAPS=FILE reads a probe written earlier in the same
 * run (tests/run_all.sh probes once and shares it with every test module).
 */
import { Waiter } from "../../ffi/waiter.ts";

/** The optional kernel features mcr's tests and benchmarks use. */
export const KERNEL_CAPABILITIES = {
  ip_mroute: {
    option: "CONFIG_IP_MROUTE",
    what:
      "IPv4 multicast routing (setsockopt MRT_INIT): FRR pimd's IGMP and new-source input, smcroute",
  },
  ip6_mroute: {
    option: "CONFIG_IPV6_MROUTE",
    what: "IPv6 multicast routing (setsockopt MRT6_INIT)",
  },
  vlan: { option: "CONFIG_VLAN_8021Q", what: "802.1Q VLAN devices (ip link add ... type vlan)" },
  netem: {
    option: "CONFIG_NET_SCH_NETEM",
    what: "the netem queueing discipline (tc qdisc ... netem)",
  },
  xdp_sockets: { option: "CONFIG_XDP_SOCKETS", what: "AF_XDP sockets" },
  io_uring: {
    option: "CONFIG_IO_URING",
    what: "io_uring (the relay's wait point and TX kicks; kernel.io_uring_disabled must be 0)",
  },
  rt_sched: {
    option: "CONFIG_RT_GROUP_SCHED",
    what: "real-time scheduling for a test's CPU hog (chrt -f; a container may have no RT runtime)",
  },
} as const;

export type KernelCapability = keyof typeof KERNEL_CAPABILITIES;

export interface CapabilityResult {
  ok: boolean;
  /** Why it is missing, e.g. "kernel lacks CONFIG_IP_MROUTE (MRT_INIT: ENOPROTOOPT)". */
  reason?: string;
}

export type KernelProbe = Record<KernelCapability, CapabilityResult>;

function run(argv: string[]): { ok: boolean; out: string } {
  try {
    const r = new Deno.Command(argv[0], { args: argv.slice(1), stdout: "piped", stderr: "piped" })
      .outputSync();
    const dec = new TextDecoder();
    return { ok: r.success, out: (dec.decode(r.stdout) + dec.decode(r.stderr)).trim() };
  } catch (err) {
    return { ok: false, out: (err as Error).message };
  }
}

/** A python3 socket call in the namespace: prints "ok" or the errno name. */
const SOCKET_PROBES: Record<string, string> = {
  ip_mroute: "s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_IGMP)\n" +
    "s.setsockopt(socket.IPPROTO_IP, 200, 1)  # MRT_INIT",
  ip6_mroute: "s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)\n" +
    "s.setsockopt(socket.IPPROTO_IPV6, 200, 1)  # MRT6_INIT",
  xdp_sockets: "s = socket.socket(44, socket.SOCK_RAW, 0)  # AF_XDP",
};

function socketProbe(ns: string, body: string): string {
  const script = `import socket, errno\ntry:\n${
    body.split("\n").map((l) => "    " + l).join("\n")
  }\n    print("ok")\nexcept OSError as e:\n    print(errno.errorcode.get(e.errno, str(e.errno)))\n`;
  const r = run(["ip", "netns", "exec", ns, "python3", "-c", script]);
  return r.ok ? r.out : `python3 failed: ${r.out}`;
}

/** `# CONFIG_X is not set` in /proc/config.gz, when the kernel exposes its config. */
function configSays(option: string): "y" | "n" | "unknown" {
  const r = run(["sh", "-c", `zcat /proc/config.gz 2>/dev/null | grep -E '^(# )?${option}[= ]'`]);
  if (!r.ok || r.out === "") return "unknown";
  return r.out.startsWith("#") ? "n" : "y";
}

function lacks(cap: KernelCapability, detail: string): CapabilityResult {
  return { ok: false, reason: `kernel lacks ${KERNEL_CAPABILITIES[cap].option} (${detail})` };
}

/**
 * Runs every probe now (needs root: it builds a namespace). Without the
 * rights to build one, every capability is reported unknown-missing with
 * that reason (the namespace tests are skipped for the same reason).
 */
export function probeKernel(): KernelProbe {
  const ns = `mcrcap${Deno.pid}`;
  const add = run(["ip", "netns", "add", ns]);
  const out = {} as KernelProbe;
  if (!add.ok) {
    for (const cap of Object.keys(KERNEL_CAPABILITIES) as KernelCapability[]) {
      out[cap] = { ok: false, reason: `cannot probe: ip netns add failed: ${add.out}` };
    }
    return out;
  }
  try {
    for (const cap of ["ip_mroute", "ip6_mroute", "xdp_sockets"] as const) {
      const answer = socketProbe(ns, SOCKET_PROBES[cap]);
      out[cap] = answer === "ok" ? { ok: true } : lacks(
        cap,
        `${
          cap === "xdp_sockets" ? "socket(AF_XDP)" : cap === "ip_mroute" ? "MRT_INIT" : "MRT6_INIT"
        }: ${answer}`,
      );
    }
    const veth = run([
      "ip",
      "-n",
      ns,
      "link",
      "add",
      "capv0",
      "type",
      "veth",
      "peer",
      "name",
      "capv1",
    ]);
    const vlan = veth.ok
      ? run([
        "ip",
        "-n",
        ns,
        "link",
        "add",
        "link",
        "capv0",
        "name",
        "capv0.5",
        "type",
        "vlan",
        "id",
        "5",
      ])
      : veth;
    out.vlan = vlan.ok ? { ok: true } : lacks("vlan", `ip link add type vlan: ${vlan.out}`);
    const netem = run([
      "ip",
      "netns",
      "exec",
      ns,
      "tc",
      "qdisc",
      "add",
      "dev",
      "lo",
      "root",
      "netem",
      "delay",
      "1ms",
    ]);
    out.netem = netem.ok ? { ok: true } : lacks("netem", `tc qdisc add netem: ${netem.out}`);
  } finally {
    run(["ip", "netns", "del", ns]);
  }
  out.io_uring = probeIoUring();
  const rt = run(["chrt", "-f", "1", "true"]);
  out.rt_sched = rt.ok ? { ok: true } : lacks("rt_sched", `chrt -f 1 true: ${rt.out}`);
  // A "no" from the kernel's own config names the option even when a probe failed for another reason.
  for (const cap of Object.keys(out) as KernelCapability[]) {
    if (!out[cap].ok && configSays(KERNEL_CAPABILITIES[cap].option) === "y") {
      out[cap] = {
        ok: false,
        reason: `${KERNEL_CAPABILITIES[cap].option}=y, but: ${out[cap].reason}`,
      };
    }
  }
  return out;
}

/** io_uring as the relay sets it up: the native waiter opened and closed (c/uring.c). */
function probeIoUring(): CapabilityResult {
  try {
    Waiter.open(8).close();
    return { ok: true };
  } catch (err) {
    let detail = (err as Error).message;
    try {
      const disabled = Deno.readTextFileSync("/proc/sys/kernel/io_uring_disabled").trim();
      if (disabled !== "0") detail += `; kernel.io_uring_disabled = ${disabled}`;
    } catch { /* older kernels have no such sysctl */ }
    return lacks("io_uring", detail);
  }
}

/** Applies MCR_KERNEL_LACKS (a comma list): those capabilities are reported missing, as on such a kernel. */
export function simulateLacking(probe: KernelProbe, lacking: string | undefined): KernelProbe {
  if (!lacking) return probe;
  const out = { ...probe };
  for (const name of lacking.split(",").map((s) => s.trim()).filter((s) => s !== "")) {
    if (!(name in KERNEL_CAPABILITIES)) {
      throw new Error(`MCR_KERNEL_LACKS: unknown capability "${name}"`);
    }
    const cap = name as KernelCapability;
    out[cap] = {
      ok: false,
      reason: `kernel lacks ${KERNEL_CAPABILITIES[cap].option} (simulated by MCR_KERNEL_LACKS)`,
    };
  }
  return out;
}

let cached: KernelProbe | null = null;

/**
 * The probe for this run: read from MCR_KERNEL_CAPS when a runner wrote one,
 * else probed once per process; MCR_KERNEL_LACKS applied on top.
 */
export function kernelCapabilities(): KernelProbe {
  if (cached) return cached;
  let probe: KernelProbe | null = null;
  const file = Deno.env.get("MCR_KERNEL_CAPS");
  if (file) {
    try {
      probe = JSON.parse(Deno.readTextFileSync(file)) as KernelProbe;
    } catch { /* not written (yet): probe here */ }
  }
  cached = simulateLacking(probe ?? probeKernel(), Deno.env.get("MCR_KERNEL_LACKS"));
  return cached;
}

/** The first capability of `needs` the kernel lacks, with its reason; null when all are there. */
export function firstMissing(
  needs: readonly KernelCapability[],
  probe: KernelProbe = kernelCapabilities(),
): { capability: KernelCapability; reason: string } | null {
  for (const cap of needs) {
    if (!probe[cap].ok) return { capability: cap, reason: probe[cap].reason ?? "missing" };
  }
  return null;
}

// `deno run --allow-all src/tools/kernel_probe.ts` prints the probe as JSON (tests/run_all.sh).
if (import.meta.main) console.log(JSON.stringify(probeKernel()));
