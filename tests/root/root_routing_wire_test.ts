/**
 * mcr's routing protocols checked on the wire without kernel multicast
 * routing (CONFIG_IP_MROUTE, which FRR's pimd needs, is not required here),
 * against implementations mcr's own codec (src/protocols/) has no part in:
 * what mcr sends is decoded by tshark (Wireshark's dissectors, checksums
 * verified), and a PIM neighbour and an MSDP peer are scripted in python3
 * with encoders and decoders of their own, written from RFC 7761 and 3618.
 *
 * Debian packages: tshark, python3 (and tcpdump, as the other namespace tests).
 *
 *   gen 10.0.0.1 -- 10.0.0.2 mcr 10.0.1.1 -- 10.0.1.2 sink
 *
 * The sink's namespace plays the other side: the RP mcr registers with, the
 * PIM neighbour that joins and prunes, the MSDP peer.
 */
import assert from "node:assert/strict";
import { type Topology, withTopology } from "../../src/tools/topology.ts";
import { rootTest } from "../helpers/netns.ts";
import { startCapture, startRelay, startSink } from "../helpers/relay.ts";
import { outputPackets, routing, startStream, stats, waitFor } from "../helpers/routing.ts";
import { RoutingResponse } from "../../src/api/responses.ts";

/** What tshark writes in a `*.checksum.status` / `pim.cksum.status` field for a checksum it verified and found right. */
const GOOD = "1";

/**
 * Decodes a capture with tshark: one object per packet matching the display
 * filter, each field as the list of its occurrences in the packet (a
 * Register has two IPv4 headers: the outer, then the one it carries).
 * IPv4 header checksums are verified (ip.check_checksum); Wireshark always
 * verifies the IGMP and PIM ones.
 */
async function decode(
  t: Topology,
  ns: string,
  pcap: string,
  filter: string,
  fields: string[],
): Promise<Record<string, string[]>[]> {
  const r = await t.run(ns, [
    "tshark",
    "-n",
    "-r",
    pcap,
    "-o",
    "ip.check_checksum:TRUE",
    "-Y",
    filter,
    "-T",
    "fields",
    "-E",
    "separator=/t",
    "-E",
    "occurrence=a",
    "-E",
    "aggregator=,",
    ...fields.flatMap((f) => ["-e", f]),
  ]);
  if (r.code !== 0) throw new Error(`tshark -r ${pcap} failed (${r.code}): ${r.stderr}`);
  return r.stdout.split("\n").filter((l) => l !== "").map((line) => {
    const values = line.split("\t");
    return Object.fromEntries(
      fields.map((f, i) => [f, values[i] ? values[i].split(",") : []]),
    );
  });
}

/** A python3 script in a namespace: stdin for commands, stdout collected line by line. */
interface Script {
  lines: string[];
  send(line: string): Promise<void>;
  /** Ends it (SIGTERM) and returns what it wrote on stderr. */
  stop(): Promise<string>;
}

function startScript(ns: string, script: string): Script {
  const p = new Deno.Command("ip", {
    args: ["netns", "exec", ns, "python3", "-c", script],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  const out = (async () => {
    let buf = "";
    for await (const chunk of p.stdout.pipeThrough(new TextDecoderStream())) {
      buf += chunk;
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        lines.push(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
    }
  })();
  const err = new Response(p.stderr).text();
  const stdin = p.stdin.getWriter();
  return {
    lines,
    async send(line: string) {
      await stdin.write(new TextEncoder().encode(line + "\n"));
    },
    async stop() {
      await stdin.close().catch(() => {});
      try {
        p.kill("SIGTERM");
      } catch { /* gone */ }
      await p.status;
      await out.catch(() => {});
      return await err.catch(() => "");
    },
  };
}

rootTest(
  "pim/igmp: mcr's PIM Hellos, IGMP queries and Null-Registers decoded by tshark: valid checksums and the fields the configuration asks for",
  async () => {
    await withTopology(async (t) => {
      const n = await t.chain();
      const helloIntervalMs = 1000;
      const drPriority = 7;
      const queryIntervalMs = 2000;
      const queryResponseMs = 1000;
      const robustness = 3; // not the default (2), so the QRV seen is the configured one
      const rp = "10.0.1.2"; // the sink: on relayOut's subnet, so the unicast Registers leave by relayOut
      const relay = await startRelay(
        t,
        n.relay,
        [
          `pim: { interfaces: [${n.relayOut}], hello_interval_ms: ${helloIntervalMs}, dr_priority: ${drPriority}, rp: [{ address: ${rp}, groups: 239.0.0.0/8 }] }`,
          `igmp: { interfaces: [${n.relayOut}], query_interval_ms: ${queryIntervalMs}, query_response_ms: ${queryResponseMs}, robustness: ${robustness} }`,
          "rules:",
          "  - name: a",
          `    input: { interface: ${n.relayIn}, group: 239.1.1.1, port: 5001 }`,
          `    outputs: [{ interface: ${n.relayOut}, group: 239.9.9.1, port: 6001, source_ip: 10.0.0.1 }]`,
        ].join("\n"),
      );
      const pcap = `/tmp/mcr-wire-${t.prefix}.pcap`;
      let capture: Deno.ChildProcess | undefined;
      const stream = startStream(t, n.gen, {
        group: "239.1.1.1",
        port: 5001,
        rate: 200,
        seconds: 120,
        iface: n.genIf,
      });
      try {
        capture = await startCapture(t, n.relay, [
          "tcpdump",
          "-i",
          n.relayOut,
          "-nn",
          "-U",
          "-w",
          pcap,
          "ip proto 103 or ip proto 2",
        ]);
        // Polled from the growing capture until each kind was sent at least twice
        // (Registers only once the stream is relayed, then every 5 s).
        await waitFor(
          "two Hellos, two general queries and two Registers captured",
          60_000,
          async () => {
            const seen = await decode(t, n.relay, pcap, "ip.src == 10.0.1.1", [
              "pim.type",
              "igmp.type",
            ]);
            const count = (f: string, v: string) => seen.filter((p) => p[f][0] === v).length;
            return count("pim.type", "0") >= 2 && count("igmp.type", "0x11") >= 2 &&
              count("pim.type", "1") >= 2;
          },
        );
        capture.kill("SIGTERM");
        await capture.status;

        // Hellos (RFC 7761 4.9.2): to ALL-PIM-ROUTERS with TTL 1. The holdtime option is in whole
        // seconds and defaults to 3.5 x the hello period (4.11, Default_Hello_Holdtime); 3500 ms is
        // not a whole number of seconds and mcr rounds up (src/supervisor/routing.ts pimOptions:
        // Math.ceil), so the neighbour state outlives 3.5 periods rather than expiring after 3: 4 s.
        const holdtimeS = Math.ceil(3.5 * helloIntervalMs / 1000);
        assert.equal(holdtimeS, 4);
        const hellos = await decode(t, n.relay, pcap, "pim.type == 0", [
          "ip.src",
          "ip.dst",
          "ip.ttl",
          "ip.checksum.status",
          "pim.version",
          "pim.cksum.status",
          "pim.optiontype",
          "pim.holdtime",
          "pim.dr_priority",
          "pim.generation_id",
        ]);
        assert.ok(hellos.length >= 2, `Hellos captured: ${hellos.length}`);
        for (const h of hellos) {
          assert.equal(h["pim.generation_id"].length, 1, "a Generation ID option (type 20)");
          assert.deepEqual(
            { ...h, "pim.generation_id": [] },
            {
              "ip.src": ["10.0.1.1"],
              "ip.dst": ["224.0.0.13"],
              "ip.ttl": ["1"],
              "ip.checksum.status": [GOOD],
              "pim.version": ["2"],
              "pim.cksum.status": [GOOD],
              "pim.optiontype": ["1", "19", "20"], // Holdtime, DR Priority, Generation ID
              "pim.holdtime": [String(holdtimeS)],
              "pim.dr_priority": [String(drPriority)],
              "pim.generation_id": [],
            },
            "a Hello as tshark decodes it",
          );
        }
        assert.equal(
          new Set(hellos.map((h) => h["pim.generation_id"][0])).size,
          1,
          "one Generation ID throughout (no restart)",
        );

        // IGMPv3 general queries (RFC 3376 4.1): to 224.0.0.1 with TTL 1 and Router Alert (4);
        // Max Resp Code (4.1.1) and QQIC (4.1.7) below 128 are the value itself, in 1/10 s and s.
        const maxRespCode = queryResponseMs / 100;
        const qqic = queryIntervalMs / 1000;
        assert.ok(maxRespCode < 128 && qqic < 128, "both in the linear range of the code");
        const queries = await decode(t, n.relay, pcap, "igmp.type == 0x11", [
          "ip.src",
          "ip.dst",
          "ip.ttl",
          "ip.opt.ra",
          "ip.checksum.status",
          "igmp.version",
          "igmp.maddr",
          "igmp.max_resp",
          "igmp.s",
          "igmp.qrv",
          "igmp.qqic",
          "igmp.num_src",
          "igmp.checksum.status",
        ]);
        assert.ok(queries.length >= 2, `queries captured: ${queries.length}`);
        for (const q of queries) {
          assert.deepEqual(q, {
            "ip.src": ["10.0.1.1"],
            "ip.dst": ["224.0.0.1"],
            "ip.ttl": ["1"],
            "ip.opt.ra": ["0"],
            "ip.checksum.status": [GOOD],
            "igmp.version": ["3"],
            "igmp.maddr": ["0.0.0.0"],
            "igmp.max_resp": [String(maxRespCode)],
            "igmp.s": ["0"],
            "igmp.qrv": [String(robustness)],
            "igmp.qqic": [String(qqic)],
            "igmp.num_src": ["0"],
            "igmp.checksum.status": [GOOD],
          }, "a general query as tshark decodes it");
        }

        // Null-Registers (RFC 7761 4.4.1, 4.9.3): unicast to the RP, the N bit set, the checksum
        // over the PIM header and flags only, carrying an IPv4 header from S (the output's
        // source_ip) to G (the output's group).
        const registers = await decode(t, n.relay, pcap, "pim.type == 1", [
          "ip.src",
          "ip.dst",
          "ip.proto",
          "ip.checksum.status",
          "pim.version",
          "pim.cksum.status",
          "pim.register_flag.border",
          "pim.register_flag.null_register",
        ]);
        assert.ok(registers.length >= 2, `Registers captured: ${registers.length}`);
        for (const r of registers) {
          assert.deepEqual(r, {
            "ip.src": ["10.0.1.1", "10.0.0.1"],
            "ip.dst": [rp, "239.9.9.1"],
            "ip.proto": ["103", "103"],
            "ip.checksum.status": [GOOD, GOOD],
            "pim.version": ["2"],
            "pim.cksum.status": [GOOD],
            "pim.register_flag.border": ["0"],
            "pim.register_flag.null_register": ["1"],
          }, "a Null-Register as tshark decodes it (outer IPv4 header, then the one it carries)");
        }
        const reg = (await routing(t, n.relay)).pim.registers;
        assert.deepEqual(
          reg.map(({ source, group, rp, state }) => ({ source, group, rp, state })),
          [{ source: "10.0.0.1", group: "239.9.9.1", rp, state: "join" }],
        );
      } finally {
        try {
          capture?.kill("SIGTERM");
        } catch { /* stopped */ }
        await capture?.status;
        await Deno.remove(pcap).catch(() => {});
        await stream.kill();
        const { code } = await relay.stop();
        assert.equal(code, 0);
      }
    });
  },
);

/**
 * A PIM neighbour (RFC 7761 4.9) on the sink's link, with an encoder of its
 * own: a Hello every second (Holdtime 30 s, DR Priority 5, Generation ID
 * 0x5eed1234) and, after "join" on stdin, an (S,G) Join for (10.0.0.1,
 * 239.9.9.1) addressed to mcr with each Hello (a periodic refresh); after
 * "prune", the Prune of the same (S,G) instead. Ends at EOF on stdin.
 */
const PIM_NEIGHBOUR = `
import select, socket, struct, sys, time
ME, UPSTREAM, S, G = "10.0.1.2", "10.0.1.1", "10.0.0.1", "239.9.9.1"

def checksum(b):
    if len(b) % 2:
        b += bytes(1)
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff

def pim(kind, body):
    m = bytes([0x20 | kind, 0, 0, 0]) + body  # version 2, type, reserved, checksum 0
    return m[:2] + struct.pack("!H", checksum(m)) + m[4:]  # over the whole message

def option(kind, fmt, value):
    v = struct.pack(fmt, value)
    return struct.pack("!HH", kind, len(v)) + v

hello = pim(0, option(1, "!H", 30) + option(19, "!I", 5) + option(20, "!I", 0x5eed1234))

def join_prune(joins, prunes):
    body = bytes([1, 0]) + socket.inet_aton(UPSTREAM)  # encoded-unicast upstream neighbour
    body += bytes([0, 1]) + struct.pack("!H", 210)  # reserved, 1 group, holdtime 210 s
    body += bytes([1, 0, 0, 32]) + socket.inet_aton(G)  # encoded-group, mask 32
    body += struct.pack("!HH", len(joins), len(prunes))
    for s in joins + prunes:
        body += bytes([1, 0, 0x04, 32]) + socket.inet_aton(s)  # encoded-source: S bit, mask 32
    return pim(3, body)

sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, 103)
sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(ME))
sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
state = ""
deadline = time.time() + 170
while time.time() < deadline:
    sock.sendto(hello, ("224.0.0.13", 0))
    if state == "join":
        sock.sendto(join_prune([S], []), ("224.0.0.13", 0))
    elif state == "prune":
        sock.sendto(join_prune([], [S]), ("224.0.0.13", 0))
    if select.select([sys.stdin], [], [], 1.0)[0]:
        line = sys.stdin.readline()
        if not line:
            break
        state = line.strip()
        print(state, flush=True)
`;

rootTest(
  "pim: a scripted PIM neighbour's (S,G) Join adds a learned output on its link and the stream reaches it; its Prune takes it away",
  async () => {
    await withTopology(async (t) => {
      const n = await t.chain();
      // The rule's only configured output goes to another link (a veth pair inside mcr's
      // namespace), so what reaches the neighbour's link is what its Join asked for.
      for (
        const argv of [
          ["ip", "link", "add", "mcrside0", "type", "veth", "peer", "name", "mcrside1"],
          ["ip", "link", "set", "mcrside0", "up"],
          ["ip", "link", "set", "mcrside1", "up"],
        ]
      ) assert.equal((await t.run(n.relay, argv)).code, 0, argv.join(" "));
      const relay = await startRelay(
        t,
        n.relay,
        [
          `pim: { interfaces: [${n.relayOut}], hello_interval_ms: 1000 }`,
          "rules:",
          "  - name: a",
          `    input: { interface: ${n.relayIn}, group: 239.1.1.1, port: 5001 }`,
          "    outputs: [{ interface: mcrside0, group: 239.9.9.1, port: 6001, source_ip: 10.0.0.1 }]",
        ].join("\n"),
      );
      const stream = startStream(t, n.gen, {
        group: "239.1.1.1",
        port: 5001,
        rate: 500,
        seconds: 150,
        iface: n.genIf,
      });
      const neighbour = startScript(n.sink, PIM_NEIGHBOUR);
      try {
        const nb = await waitFor(
          "mcr to list the scripted neighbour",
          20_000,
          async () =>
            (await routing(t, n.relay)).pim.neighbors.find((x) =>
              x.address === "10.0.1.2" && x.interface === n.relayOut
            ),
        );
        assert.deepEqual(
          { dr: nb.dr_priority, genid: nb.generation_id, holdtime: nb.holdtime_s },
          { dr: 5, genid: 0x5eed1234, holdtime: 30 },
          "the Hello's options as mcr read them",
        );
        assert.equal(
          outputPackets(await stats(t, n.relay), "a", n.relayOut),
          0,
          "nothing goes to the neighbour's link before a join",
        );

        await neighbour.send("join");
        const learned = await waitFor(
          "a learned output on the neighbour's link",
          20_000,
          async () => {
            const r = await routing(t, n.relay);
            return r.learned_outputs.some((o) =>
              o.interface === n.relayOut && o.group === "239.9.9.1" && o.source === "10.0.0.1"
            ) && r;
          },
        );
        RoutingResponse.parse(learned);
        const route = learned.pim.routes.find((x) =>
          x.interface === n.relayOut && x.source === "10.0.0.1" && x.group === "239.9.9.1"
        );
        assert.ok(route, JSON.stringify(learned.pim.routes));
        assert.equal(route.neighbor, "10.0.1.2");
        assert.ok(
          route.expires_ms !== null && route.expires_ms > 0 && route.expires_ms <= 210_000,
          `kept for the Join's holdtime (210 s): ${route.expires_ms}`,
        );
        assert.deepEqual(
          learned.learned_outputs.map(({ rule, interface: i, group, port, source }) => ({
            rule,
            i,
            group,
            port,
            source,
          })),
          [{ rule: "a", i: n.relayOut, group: "239.9.9.1", port: 6001, source: "10.0.0.1" }],
        );
        const sink = startSink(t, n.sink, {
          group: "239.9.9.1",
          port: 6001,
          iface: n.sinkIf,
          maxSeconds: 4,
          idleMs: 20_000,
        });
        const got = await sink.result;
        assert.ok(got.received > 300, `the neighbour's link got the stream: ${got.received}`);
        assert.equal(got.corrupted, 0);

        await neighbour.send("prune");
        let seen = "";
        await waitFor("the learned output to go after the Prune", 30_000, async () => {
          const r = await routing(t, n.relay);
          seen = JSON.stringify({ routes: r.pim.routes, learned: r.learned_outputs });
          return r.learned_outputs.length === 0 && r.pim.routes.length === 0;
        }).catch((err) => {
          throw new Error(`${err.message}\n${seen}`);
        });
        await waitFor(
          "the output to leave the plan",
          10_000,
          async () =>
            !(await stats(t, n.relay)).rules[0].outputs.some((o) => o.interface === n.relayOut),
        );
        const r = await routing(t, n.relay);
        assert.ok(r.counters.pim_prunes > 0, "it went by a prune");
        assert.equal(r.counters.pim_invalid, 0, "every message of the neighbour was read");
        assert.ok(
          r.pim.neighbors.some((x) => x.address === "10.0.1.2"),
          "still a neighbour",
        );
        const txPackets = async () =>
          Number(
            (await t.run(n.relay, ["cat", `/sys/class/net/${n.relayOut}/statistics/tx_packets`]))
              .stdout,
          );
        const before = await txPackets();
        await new Promise((res) => setTimeout(res, 1500));
        const frames = (await txPackets()) - before;
        assert.ok(
          frames < 50,
          `the neighbour's link is quiet again (hellos only): ${frames} frames in 1.5 s`,
        );
      } finally {
        const err = await neighbour.stop();
        await stream.kill();
        const { code } = await relay.stop();
        assert.equal(code, 0);
        assert.equal(err, "", "the scripted neighbour raised nothing");
      }
    });
  },
);

/**
 * An MSDP peer (RFC 3618) at 10.0.1.2: the higher address, so it listens on
 * port 639 and mcr connects (RFC 3618 5; src/protocols/msdp_peer.ts). It
 * sends a keepalive every second and, once, an SA for (10.0.2.2, 239.5.5.5)
 * with itself as RP; it decodes every TLV mcr sends and prints one JSON line
 * each.
 */
const MSDP_PEER = `
import json, select, socket, struct, sys, time
ME = "10.0.1.2"

def say(**kw):
    print(json.dumps(kw), flush=True)

listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind((ME, 639))
listener.listen(1)
say(event="listening")
conn, (addr, _) = listener.accept()
say(event="connected", peer=addr)
keepalive = struct.pack("!BH", 4, 3)
entry = bytes(3) + bytes([32]) + socket.inet_aton("239.5.5.5") + socket.inet_aton("10.0.2.2")
sa = struct.pack("!BHB", 1, 8 + len(entry), 1) + socket.inet_aton(ME) + entry
conn.sendall(keepalive + sa)
last = time.time()
buf = b""
deadline = time.time() + 170
while time.time() < deadline:
    if time.time() - last >= 1:
        conn.sendall(keepalive)
        last = time.time()
    if not select.select([conn], [], [], 0.2)[0]:
        continue
    data = conn.recv(65536)
    if not data:
        say(event="closed")
        break
    buf += data
    while len(buf) >= 3:
        kind, length = struct.unpack("!BH", buf[:3])
        if length < 3:
            say(event="unframeable", type=kind, length=length)
            sys.exit(1)
        if len(buf) < length:
            break
        m, buf = buf[:length], buf[length:]
        if kind == 1 and length >= 8:
            count = m[3]
            entries = []
            for i in range(count):
                e = m[8 + 12 * i: 8 + 12 * (i + 1)]
                if len(e) < 12:
                    break
                entries.append({"reserved": e[:3].hex(), "sprefix": e[3],
                                "group": socket.inet_ntoa(e[4:8]), "source": socket.inet_ntoa(e[8:12])})
            say(event="sa", length=length, count=count, rp=socket.inet_ntoa(m[4:8]), entries=entries)
        else:
            say(event="tlv", type=kind, length=length)
`;

interface PeerLine {
  event: string;
  peer?: string;
  type?: number;
  length?: number;
  count?: number;
  rp?: string;
  entries?: { reserved: string; sprefix: number; group: string; source: string }[];
}

rootTest(
  "msdp: a scripted MSDP peer: the session comes up, mcr's SA for the stream it relays reaches the peer, the peer's SA reaches mcr's SA cache",
  async () => {
    await withTopology(async (t) => {
      const n = await t.chain();
      const relay = await startRelay(
        t,
        n.relay,
        [
          "msdp: { peers: [{ address: 10.0.1.2, local: 10.0.1.1 }], keepalive_ms: 2000, hold_time_ms: 6000, connect_retry_ms: 1000, sa_interval_ms: 2000 }",
          "rules:",
          "  - name: a",
          `    input: { interface: ${n.relayIn}, group: 239.1.1.1, port: 5001 }`,
          `    outputs: [{ interface: ${n.relayOut}, group: 239.9.9.1, port: 6001, source_ip: 10.0.0.1 }]`,
        ].join("\n"),
      );
      const stream = startStream(t, n.gen, {
        group: "239.1.1.1",
        port: 5001,
        rate: 200,
        seconds: 150,
        iface: n.genIf,
      });
      // The peer listens; mcr, the lower address, connects (retrying every connect_retry_ms).
      const peer = startScript(n.sink, MSDP_PEER);
      const heard = () => peer.lines.map((l) => JSON.parse(l) as PeerLine);
      try {
        await waitFor(
          "mcr's MSDP session to be established",
          30_000,
          async () => (await routing(t, n.relay)).msdp.peers[0]?.state === "established",
        );
        const info = RoutingResponse.parse(await routing(t, n.relay)).msdp.peers[0];
        assert.deepEqual(
          { state: info.state, role: info.role, peer: info.peer, local: info.local },
          { state: "established", role: "connect", peer: "10.0.1.2", local: "10.0.1.1" },
        );
        assert.equal(
          heard().find((l) => l.event === "connected")?.peer,
          "10.0.1.1",
          "mcr, the lower address, connected from its local address",
        );

        // mcr's SA (RFC 3618 12.2.1) as the peer decoded it: the output's source_ip and group,
        // mcr's local address as RP (msdp.originator is not set).
        const sa = await waitFor(
          "an SA from mcr at the peer",
          30_000,
          () =>
            Promise.resolve(
              heard().find((l) =>
                l.event === "sa" &&
                l.entries?.some((e) => e.source === "10.0.0.1" && e.group === "239.9.9.1")
              ),
            ),
        );
        assert.deepEqual(sa, {
          event: "sa",
          length: 8 + 12,
          count: 1,
          rp: "10.0.1.1",
          entries: [{ reserved: "000000", sprefix: 32, group: "239.9.9.1", source: "10.0.0.1" }],
        });

        // The peer's SA in mcr's cache.
        const cached = await waitFor(
          "mcr's SA cache to list (10.0.2.2, 239.5.5.5)",
          20_000,
          async () =>
            (await routing(t, n.relay)).msdp.sa_cache.find((e) =>
              e.source === "10.0.2.2" && e.group === "239.5.5.5"
            ),
        );
        assert.equal(cached.rp, "10.0.1.2");
        assert.equal(cached.peer, "10.0.1.2");

        // Everything mcr sent was a well-framed keepalive (length 3) or SA.
        await waitFor(
          "a keepalive from mcr",
          20_000,
          () => Promise.resolve(heard().some((l) => l.event === "tlv" && l.type === 4)),
        );
        for (const l of heard()) {
          if (l.event === "tlv") assert.deepEqual([l.type, l.length], [4, 3], JSON.stringify(l));
          if (l.event === "sa") {
            assert.equal(l.length, 8 + 12 * l.count!, JSON.stringify(l));
            assert.equal(l.rp, "10.0.1.1");
          }
          assert.ok(
            ["listening", "connected", "sa", "tlv"].includes(l.event),
            `the peer saw nothing else: ${JSON.stringify(l)}`,
          );
        }
        const r = await routing(t, n.relay);
        assert.equal(r.counters.msdp_established, 1, "one session throughout");
        assert.equal(r.counters.msdp_invalid, 0, "every message of the peer was read");
        assert.ok(r.counters.msdp_received > 0 && r.counters.msdp_sent > 0);
      } finally {
        await stream.kill();
        const { code } = await relay.stop();
        const err = await peer.stop();
        assert.equal(code, 0);
        assert.equal(err, "", "the scripted peer raised nothing");
      }
    });
  },
);
