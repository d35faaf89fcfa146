/**
 * Throw-away network topologies in namespaces, for the demo, the benchmarks
 * and the namespace tests. Everything a Topology creates carries its unique
 * prefix and is removed by destroy(); leftovers of dead runs (whose owning
 * process is gone) are removed when a new Topology starts.
 *
 * Generator, relay and receiver always get namespaces of their own: in one
 * namespace the kernel drops packets whose source is a local address as
 * martians, which would make every socket-based receiver see nothing.
 */

import { processExists } from "../../ffi/process.ts";

const MARKER_DIR = "/run/mcr-topology";
/** All namespaces and marker files start with this; interface names with the topology prefix. */
export const TOPOLOGY_PREFIX = "mcrt";

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion; never throws for a non-zero exit. */
export async function runCommand(argv: string[], timeoutMs = 30_000): Promise<CommandResult> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    const out = await new Deno.Command(argv[0], {
      args: argv.slice(1),
      stdout: "piped",
      stderr: "piped",
      signal: controller.signal,
    }).output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  } finally {
    clearTimeout(timer);
  }
}

async function must(argv: string[]): Promise<string> {
  const r = await runCommand(argv);
  if (r.code !== 0) throw new Error(`${argv.join(" ")} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

/** Whether the process that owns a topology still runs (kill(pid, 0); Deno forbids /proc without --allow-all). */
function pidAlive(pid: number): boolean {
  return processExists(pid);
}

/** Names of the chain topology (seed test 1). */
export interface ChainNames {
  gen: string;
  relay: string;
  sink: string;
  /** gen side: 10.0.0.1 */ genIf: string;
  /** relay input: 10.0.0.2 */ relayIn: string;
  /** relay output: 10.0.1.1 */ relayOut: string;
  /** sink side: 10.0.1.2 */ sinkIf: string;
}

/** Names of the routed topology: the relay's output reaches the sink through a router. */
export interface RoutedNames extends ChainNames {
  router: string;
  /** router, relay side: 10.0.1.254 / 2001:db8:1::fe */ routerIn: string;
  /** router, sink side: 10.0.2.254 / 2001:db8:2::fe */ routerOut: string;
}

/** Options of the prepared topologies. */
export interface TopologyOptions {
  /**
   * Also give every test link IPv6 addresses (2001:db8:N::/64, the same last
   * octet as the IPv4 address, DAD off so they are usable at once).
   */
  ipv6?: boolean;
}

/** Names of the dual-bridge topology (seed test 2). */
/** A chain whose generator reaches the relay over two links: the red and blue legs of a redundant feed. */
export interface LegsNames extends ChainNames {
  /** The second (blue) link: the generator's end and the relay's. */
  genIf2: string;
  relayIn2: string;
}

export interface DualBridgeNames extends ChainNames {
  bridges: string;
}

/** A set of namespaces, links and bridges with one owner and one lifetime. */
export class Topology {
  readonly prefix: string;
  #namespaces: string[] = [];
  #destroyed = false;

  private constructor(prefix: string) {
    this.prefix = prefix;
  }

  /** Creates an empty topology with a fresh prefix, after removing leftovers of dead runs. */
  static async create(): Promise<Topology> {
    await Topology.removeLeftovers();
    const id = Math.random().toString(36).slice(2, 6);
    const t = new Topology(`${TOPOLOGY_PREFIX}${id}`);
    Deno.mkdirSync(MARKER_DIR, { recursive: true });
    Deno.writeTextFileSync(`${MARKER_DIR}/${t.prefix}.pid`, String(Deno.pid));
    return t;
  }

  /** Deletes namespaces of topologies whose owning process no longer exists. */
  static async removeLeftovers(): Promise<void> {
    let markers: Deno.DirEntry[] = [];
    try {
      markers = [...Deno.readDirSync(MARKER_DIR)];
    } catch {
      return;
    }
    const stale = markers
      .filter((m) => m.name.endsWith(".pid"))
      .map((m) => ({
        prefix: m.name.slice(0, -4),
        pid: Number(Deno.readTextFileSync(`${MARKER_DIR}/${m.name}`)),
      }))
      .filter((m) => !pidAlive(m.pid));
    if (stale.length === 0) return;
    const list = (await runCommand(["ip", "netns", "list"])).stdout.split("\n").map((l) =>
      l.split(" ")[0]
    );
    for (const m of stale) {
      for (const ns of list.filter((n) => n.startsWith(m.prefix))) {
        await runCommand(["ip", "netns", "del", ns]);
      }
      try {
        Deno.removeSync(`${MARKER_DIR}/${m.prefix}.pid`);
      } catch { /* already gone */ }
    }
  }

  /**
   * Creates a namespace `<prefix>-<role>` with loopback up and IPv6 off (no
   * DAD/MLD noise) unless opts.ipv6.
   */
  async addNamespace(role: string, opts: TopologyOptions = {}): Promise<string> {
    const ns = `${this.prefix}-${role}`;
    await must(["ip", "netns", "add", ns]);
    this.#namespaces.push(ns);
    await must(["ip", "-n", ns, "link", "set", "lo", "up"]);
    await this.sysctl(ns, "net.ipv6.conf.all.disable_ipv6", "1");
    await this.sysctl(ns, "net.ipv6.conf.default.disable_ipv6", "1");
    await this.sysctl(ns, "net.ipv4.conf.all.rp_filter", "0");
    await this.sysctl(ns, "net.ipv4.conf.default.rp_filter", "0");
    if (opts.ipv6) await this.enableIpv6(ns);
    return ns;
  }

  /**
   * Turns IPv6 on in a namespace (addNamespace turns it off), without
   * duplicate address detection so addresses are usable at once. Links
   * created afterwards inherit it.
   */
  async enableIpv6(ns: string): Promise<void> {
    for (const scope of ["all", "default"]) {
      await this.sysctl(ns, `net.ipv6.conf.${scope}.disable_ipv6`, "0");
      await this.sysctl(ns, `net.ipv6.conf.${scope}.accept_dad`, "0");
    }
  }

  /** Creates a veth pair with ends in two namespaces, both up. */
  async addVeth(nsA: string, ifA: string, nsB: string, ifB: string): Promise<void> {
    await must([
      "ip",
      "-n",
      nsA,
      "link",
      "add",
      ifA,
      "type",
      "veth",
      "peer",
      "name",
      ifB,
      "netns",
      nsB,
    ]);
    await must(["ip", "-n", nsA, "link", "set", ifA, "up"]);
    await must(["ip", "-n", nsB, "link", "set", ifB, "up"]);
  }

  /** Creates a bridge (multicast snooping off, so forwarding does not hang on IGMP timing). */
  async addBridge(ns: string, name: string): Promise<void> {
    await must(["ip", "-n", ns, "link", "add", name, "type", "bridge", "mcast_snooping", "0"]);
    await must(["ip", "-n", ns, "link", "set", name, "up"]);
  }

  async attach(ns: string, ifname: string, bridge: string): Promise<void> {
    await must(["ip", "-n", ns, "link", "set", ifname, "master", bridge]);
  }

  async addAddress(ns: string, ifname: string, cidr: string): Promise<void> {
    const v6 = cidr.includes(":");
    await must([
      "ip",
      ...(v6 ? ["-6"] : []),
      "-n",
      ns,
      "addr",
      "add",
      cidr,
      "dev",
      ifname,
      ...(v6 ? ["nodad"] : []),
    ]);
  }

  /** Adds a unicast route (IPv4 or IPv6) in a namespace. */
  async addRoute(ns: string, prefix: string, via: string): Promise<void> {
    await must([
      "ip",
      ...(prefix.includes(":") ? ["-6"] : []),
      "-n",
      ns,
      "route",
      "add",
      prefix,
      "via",
      via,
    ]);
  }

  /** Routes multicast out of `ifname` (so a generator's sends leave by the test link). */
  async routeMulticast(ns: string, ifname: string): Promise<void> {
    await must(["ip", "-n", ns, "route", "add", "224.0.0.0/4", "dev", ifname]);
  }

  async sysctl(ns: string, key: string, value: string): Promise<void> {
    await must(["ip", "netns", "exec", ns, "sysctl", "-q", "-w", `${key}=${value}`]);
  }

  /** Sets offloads with ethtool (tx: checksum offload; rxvlan: VLAN tag stripping). */
  async setOffload(
    ns: string,
    ifname: string,
    opts: { tx?: boolean; rxvlan?: boolean },
  ): Promise<void> {
    const args = ["ip", "netns", "exec", ns, "ethtool", "-K", ifname];
    if (opts.tx !== undefined) args.push("tx", opts.tx ? "on" : "off");
    if (opts.rxvlan !== undefined) args.push("rxvlan", opts.rxvlan ? "on" : "off");
    await must(args);
  }

  /** Runs a command inside a namespace. */
  run(ns: string, argv: string[], timeoutMs?: number): Promise<CommandResult> {
    return runCommand(["ip", "netns", "exec", ns, ...argv], timeoutMs);
  }

  /** Starts a long-running command inside a namespace. */
  spawn(
    ns: string,
    argv: string[],
    opts: { stdout?: "piped" | "null" | "inherit"; stderr?: "piped" | "null" | "inherit" } = {},
  ): Deno.ChildProcess {
    return new Deno.Command("ip", {
      args: ["netns", "exec", ns, ...argv],
      stdout: opts.stdout ?? "piped",
      stderr: opts.stderr ?? "piped",
      stdin: "null",
    }).spawn();
  }

  /**
   * The seed's chain: gen 10.0.0.1 <-> 10.0.0.2 relay 10.0.1.1 <-> 10.0.1.2 sink.
   * Generator TX checksum offload is turned off so frames carry finished
   * checksums, as they would from a real NIC.
   */
  async chain(opts: TopologyOptions = {}): Promise<ChainNames> {
    const p = this.prefix;
    const names = {
      gen: await this.addNamespace("gen", opts),
      relay: await this.addNamespace("relay", opts),
      sink: await this.addNamespace("sink", opts),
      genIf: `${p}v0`,
      relayIn: `${p}v1`,
      relayOut: `${p}v2`,
      sinkIf: `${p}v3`,
    };
    await this.addVeth(names.gen, names.genIf, names.relay, names.relayIn);
    await this.addVeth(names.relay, names.relayOut, names.sink, names.sinkIf);
    await this.addAddress(names.gen, names.genIf, "10.0.0.1/24");
    await this.addAddress(names.relay, names.relayIn, "10.0.0.2/24");
    await this.addAddress(names.relay, names.relayOut, "10.0.1.1/24");
    await this.addAddress(names.sink, names.sinkIf, "10.0.1.2/24");
    if (opts.ipv6) {
      await this.addAddress(names.gen, names.genIf, "2001:db8::1/64");
      await this.addAddress(names.relay, names.relayIn, "2001:db8::2/64");
      await this.addAddress(names.relay, names.relayOut, "2001:db8:1::1/64");
      await this.addAddress(names.sink, names.sinkIf, "2001:db8:1::2/64");
    }
    await this.routeMulticast(names.gen, names.genIf);
    await this.routeMulticast(names.sink, names.sinkIf);
    await this.setOffload(names.gen, names.genIf, { tx: false });
    return names;
  }

  /**
   * The chain with a router between relay and sink: gen 10.0.0.1 <-> 10.0.0.2
   * relay 10.0.1.1 <-> 10.0.1.254 router 10.0.2.254 <-> 10.0.2.2 sink (and
   * 2001:db8:{0,1,2}::/64 alike with ipv6). The relay routes 10.0.2.0/24 via
   * the router; the sink routes back the same way.
   */
  /**
   * gen ==(red: 10.0.0.0/24, blue: 10.0.2.0/24)==> relay --> sink: a chain
   * with a second link from the generator to the relay, for the two legs of
   * a redundant feed (src/tools/legs.ts sends on both).
   */
  async legs(opts: TopologyOptions = {}): Promise<LegsNames> {
    const names = await this.chain(opts);
    const p = this.prefix;
    const more = { genIf2: `${p}v4`, relayIn2: `${p}v5` };
    await this.addVeth(names.gen, more.genIf2, names.relay, more.relayIn2);
    await this.addAddress(names.gen, more.genIf2, "10.0.2.1/24");
    await this.addAddress(names.relay, more.relayIn2, "10.0.2.2/24");
    await this.setOffload(names.gen, more.genIf2, { tx: false });
    return { ...names, ...more };
  }

  async routedChain(opts: TopologyOptions = {}): Promise<RoutedNames> {
    const p = this.prefix;
    const names = {
      gen: await this.addNamespace("gen", opts),
      relay: await this.addNamespace("relay", opts),
      router: await this.addNamespace("router", opts),
      sink: await this.addNamespace("sink", opts),
      genIf: `${p}v0`,
      relayIn: `${p}v1`,
      relayOut: `${p}v2`,
      routerIn: `${p}v3`,
      routerOut: `${p}v4`,
      sinkIf: `${p}v5`,
    };
    await this.addVeth(names.gen, names.genIf, names.relay, names.relayIn);
    await this.addVeth(names.relay, names.relayOut, names.router, names.routerIn);
    await this.addVeth(names.router, names.routerOut, names.sink, names.sinkIf);
    const v4: [string, string, string][] = [
      [names.gen, names.genIf, "10.0.0.1/24"],
      [names.relay, names.relayIn, "10.0.0.2/24"],
      [names.relay, names.relayOut, "10.0.1.1/24"],
      [names.router, names.routerIn, "10.0.1.254/24"],
      [names.router, names.routerOut, "10.0.2.254/24"],
      [names.sink, names.sinkIf, "10.0.2.2/24"],
    ];
    for (const [ns, ifname, cidr] of v4) await this.addAddress(ns, ifname, cidr);
    await this.sysctl(names.router, "net.ipv4.ip_forward", "1");
    await this.addRoute(names.relay, "10.0.2.0/24", "10.0.1.254");
    await this.addRoute(names.sink, "10.0.1.0/24", "10.0.2.254");
    if (opts.ipv6) {
      const v6: [string, string, string][] = [
        [names.gen, names.genIf, "2001:db8::1/64"],
        [names.relay, names.relayIn, "2001:db8::2/64"],
        [names.relay, names.relayOut, "2001:db8:1::1/64"],
        [names.router, names.routerIn, "2001:db8:1::fe/64"],
        [names.router, names.routerOut, "2001:db8:2::fe/64"],
        [names.sink, names.sinkIf, "2001:db8:2::2/64"],
      ];
      for (const [ns, ifname, cidr] of v6) await this.addAddress(ns, ifname, cidr);
      await this.sysctl(names.router, "net.ipv6.conf.all.forwarding", "1");
      await this.addRoute(names.relay, "2001:db8:2::/64", "2001:db8:1::fe");
      await this.addRoute(names.sink, "2001:db8:1::/64", "2001:db8:2::fe");
    }
    await this.routeMulticast(names.gen, names.genIf);
    await this.setOffload(names.gen, names.genIf, { tx: false });
    return names;
  }

  /**
   * The seed's dual bridge, each role in its own namespace and the bridges in
   * another: gen 10.0.0.10 on br0; relay 10.0.0.20 on br0 and 10.0.1.20 on
   * br1; sink 10.0.1.30 on br1.
   */
  async dualBridge(opts: TopologyOptions = {}): Promise<DualBridgeNames> {
    const p = this.prefix;
    const names = {
      gen: await this.addNamespace("gen", opts),
      relay: await this.addNamespace("relay", opts),
      sink: await this.addNamespace("sink", opts),
      bridges: await this.addNamespace("br"),
      genIf: `${p}g`,
      relayIn: `${p}r0`,
      relayOut: `${p}r1`,
      sinkIf: `${p}s`,
    };
    const br = names.bridges;
    await this.addBridge(br, "br0");
    await this.addBridge(br, "br1");
    await this.addVeth(names.gen, names.genIf, br, `${p}bg`);
    await this.addVeth(names.relay, names.relayIn, br, `${p}b0`);
    await this.addVeth(names.relay, names.relayOut, br, `${p}b1`);
    await this.addVeth(names.sink, names.sinkIf, br, `${p}bs`);
    await this.attach(br, `${p}bg`, "br0");
    await this.attach(br, `${p}b0`, "br0");
    await this.attach(br, `${p}b1`, "br1");
    await this.attach(br, `${p}bs`, "br1");
    await this.addAddress(names.gen, names.genIf, "10.0.0.10/24");
    await this.addAddress(names.relay, names.relayIn, "10.0.0.20/24");
    await this.addAddress(names.relay, names.relayOut, "10.0.1.20/24");
    await this.addAddress(names.sink, names.sinkIf, "10.0.1.30/24");
    if (opts.ipv6) {
      await this.addAddress(names.gen, names.genIf, "2001:db8::10/64");
      await this.addAddress(names.relay, names.relayIn, "2001:db8::20/64");
      await this.addAddress(names.relay, names.relayOut, "2001:db8:1::20/64");
      await this.addAddress(names.sink, names.sinkIf, "2001:db8:1::30/64");
    }
    await this.routeMulticast(names.gen, names.genIf);
    await this.routeMulticast(names.sink, names.sinkIf);
    await this.setOffload(names.gen, names.genIf, { tx: false });
    return names;
  }

  /** Deletes every namespace (and with them their links and bridges). Idempotent. */
  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    for (const ns of this.#namespaces.reverse()) await runCommand(["ip", "netns", "del", ns]);
    try {
      Deno.removeSync(`${MARKER_DIR}/${this.prefix}.pid`);
    } catch { /* already gone */ }
  }
}

/** Builds a topology, runs fn, and always destroys it. */
export async function withTopology<T>(fn: (t: Topology) => Promise<T>): Promise<T> {
  const t = await Topology.create();
  try {
    return await fn(t);
  } finally {
    await t.destroy();
  }
}
