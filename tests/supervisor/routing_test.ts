/**
 * The routing speakers (src/supervisor/routing.ts composing
 * listener_speaker.ts, pim_speaker.ts and msdp_speaker.ts) over fake
 * sockets: what they open, send and count, and that a failure in an apply
 * changes nothing.
 */
import assert from "node:assert/strict";
import { ConfigSchema } from "../../src/config/schema.ts";
import { buildHostMessage, parseIgmp } from "../../src/protocols/igmp.ts";
import {
  buildIpv4,
  buildIpv6Mld,
  parseIpv4,
  parseIpv6Icmp,
} from "../../src/protocols/ip_packet.ts";
import { buildMldReport2 } from "../../src/protocols/mld.ts";
import { buildHello, parsePim } from "../../src/protocols/pim.ts";
import type { InterfaceFacts } from "../../src/supervisor/plan.ts";
import { type ProtocolSocket, Routing } from "../../src/supervisor/routing.ts";

class FakeSocket implements ProtocolSocket {
  sent: { packet: Uint8Array; mac: Uint8Array }[] = [];
  deliver: (p: Uint8Array, cut: boolean) => void = () => {};
  closed = false;
  constructor(readonly ifindex: number, readonly proto: number) {}
  follow(on: (p: Uint8Array, cut: boolean) => void) {
    this.deliver = on;
  }
  send(packet: Uint8Array, mac: Uint8Array) {
    this.sent.push({ packet, mac });
  }
  close() {
    this.closed = true;
    return Promise.resolve();
  }
}

function facts(...names: [string, number, number][]): Map<string, InterfaceFacts> {
  return new Map(
    names.map((
      [name, ifindex, ipv4],
    ) => [name, { name, ifindex, mtu: 1500, ipv4, ipv6: null, mac: [2, 0, 0, 0, 0, ifindex] }]),
  );
}

function harness(failOn: number | null = null) {
  const sockets: FakeSocket[] = [];
  const events: Record<string, unknown>[] = [];
  const unicast: { dst: string; message: Uint8Array }[] = [];
  let demandChanges = 0;
  let now = 1_000_000;
  const routing = new Routing({
    log: { info: () => {}, warn: () => {} },
    onEvent: (e) => events.push(e),
    onDemandChange: () => demandChanges++,
    advertised: () => [],
    now: () => now,
    openUnicast: () => ({
      send: (dst: Uint8Array, message: Uint8Array) =>
        unicast.push({ dst: [...dst].join("."), message }),
      close: () => {},
    }),
    linkLocal: (name: string) => name === "v6" ? "fe80::1" : null,
    openSocket: (ifindex, _family, proto) => {
      if (ifindex === failOn) throw new Error("socket refused");
      const s = new FakeSocket(ifindex, proto);
      sockets.push(s);
      return s;
    },
  });
  return {
    routing,
    sockets,
    events,
    unicast,
    demandChanges: () => demandChanges,
    advance: (ms: number) => now += ms,
  };
}

const cfg = (o: Record<string, unknown>) => ConfigSchema.parse({ rules: [], ...o });
/** Lets the speakers' after-packets step run (it is queued once per burst of packets). */
const settled = () => new Promise<void>((r) => queueMicrotask(r));

Deno.test("apply() opens one IGMP socket per igmp interface and one PIM socket per pim interface, and says hello and queries at once", async () => {
  const h = harness();
  await h.routing.apply(
    cfg({ igmp: { interfaces: ["a"] }, pim: { interfaces: ["a", "b"] } }),
    facts(["a", 2, 0x0a000101], ["b", 3, 0x0a000201]),
  );
  assert.deepEqual(h.sockets.map((s) => [s.ifindex, s.proto]), [[2, 2], [2, 103], [3, 103]]);
  const igmp = h.sockets[0].sent.map((x) => parseIpv4(x.packet));
  assert.ok(
    igmp[0].ok && igmp[0].value.destination === "224.0.0.1" && igmp[0].value.ttl === 1 &&
      igmp[0].value.routerAlert,
  );
  assert.ok(igmp[0].ok && parseIgmp(igmp[0].value.payload).ok);
  assert.deepEqual([...h.sockets[0].sent[0].mac], [0x01, 0x00, 0x5e, 0, 0, 1]);
  const hello = parseIpv4(h.sockets[2].sent[0].packet);
  assert.ok(
    hello.ok && hello.value.source === "10.0.2.1" && hello.value.destination === "224.0.0.13",
  );
  assert.ok(hello.ok && parsePim(hello.value.payload).ok);
  await h.routing.stop();
  assert.ok(h.sockets.every((s) => s.closed));
});

Deno.test("an interface that is absent or has no IPv4 address waits (listed), and is taken up when a later apply finds it", async () => {
  const h = harness();
  const c = cfg({ igmp: { interfaces: ["a", "gone"] }, pim: { interfaces: ["bare"] } });
  await h.routing.apply(c, facts(["a", 2, 0x0a000101], ["bare", 4, 0]));
  assert.deepEqual(h.routing.status().waiting, [
    { interface: "gone", protocol: "igmp", reason: "absent" },
    { interface: "bare", protocol: "pim", reason: "no IPv4 address" },
  ]);
  await h.routing.apply(
    c,
    facts(["a", 2, 0x0a000101], ["gone", 5, 0x0a000501], ["bare", 4, 0x0a000401]),
  );
  assert.deepEqual(h.routing.status().waiting, []);
  assert.equal(h.sockets.length, 3, "the socket on 'a' is kept, two new ones");
  await h.routing.stop();
});

Deno.test("a socket that cannot be opened fails the apply and changes nothing: sockets opened for it are closed, the old ones stay", async () => {
  const h = harness(9);
  const before = cfg({ igmp: { interfaces: ["a"] } });
  await h.routing.apply(before, facts(["a", 2, 0x0a000101]));
  await assert.rejects(
    h.routing.apply(
      cfg({ igmp: { interfaces: ["a", "b", "c"] } }),
      facts(["a", 2, 0x0a000101], ["b", 3, 0x0a000201], ["c", 9, 0x0a000301]),
    ),
    /socket refused/,
  );
  assert.equal(h.sockets[0].closed, false, "the socket in force stays");
  assert.equal(h.sockets[1].closed, true, "the one opened for the failed apply is closed");
  assert.deepEqual(h.routing.status().igmp.interfaces.map((i) => i.interface), ["a"]);
  await h.routing.stop();
});

Deno.test("a report makes a group present and asks for a re-plan; invalid packets are counted and change nothing", async () => {
  const h = harness();
  await h.routing.apply(cfg({ igmp: { interfaces: ["a"] } }), facts(["a", 2, 0x0a000101]));
  const sock = h.sockets[0];
  sock.deliver(new Uint8Array([0x45, 0, 0, 10]), false);
  const bad = buildIpv4(
    "10.0.1.7",
    "239.9.9.1",
    2,
    1,
    buildHostMessage("report2", "239.9.9.1"),
    true,
  );
  bad[bad.length - 1] ^= 0xff; // IGMP checksum broken
  sock.deliver(bad, false);
  assert.equal(h.routing.status().counters.igmp_invalid, 2);
  assert.equal(h.demandChanges(), 0);
  sock.deliver(
    buildIpv4("10.0.1.7", "239.9.9.1", 2, 1, buildHostMessage("report2", "239.9.9.1"), true),
    false,
  );
  await settled();
  assert.equal(h.demandChanges(), 1);
  assert.deepEqual([...h.routing.demand().igmp.get("a")!], ["239.9.9.1"]);
  assert.equal(h.routing.status().counters.igmp_groups_learned, 1);
  assert.deepEqual(h.events.filter((e) => e.protocol === "igmp"), [{
    protocol: "igmp",
    interface: "a",
    group: "239.9.9.1",
    state: "present",
  }]);
  await h.routing.stop();
});

Deno.test("PIM: a Hello makes a neighbour (and the DR is elected); a Register and other types not implemented are counted as ignored", async () => {
  const h = harness();
  await h.routing.apply(cfg({ pim: { interfaces: ["a"] } }), facts(["a", 2, 0x0a000101]));
  h.sockets[0].deliver(
    buildIpv4("10.0.1.9", "224.0.0.13", 103, 1, buildHello(105, 1, 42), false),
    false,
  );
  const st = h.routing.status();
  assert.deepEqual(st.pim.neighbors.map((n) => [n.address, n.generation_id]), [["10.0.1.9", 42]]);
  assert.equal(st.pim.interfaces[0].dr, "10.0.1.9");
  assert.deepEqual(h.events.filter((e) => e.protocol === "pim"), [{
    protocol: "pim",
    interface: "a",
    neighbor: "10.0.1.9",
    state: "up",
  }]);
  const register = new Uint8Array(8);
  register[0] = 0x21;
  const sum = ~(0x2100) & 0xffff;
  register[2] = sum >> 8;
  register[3] = sum & 0xff;
  h.sockets[0].deliver(buildIpv4("10.0.1.9", "10.0.1.1", 103, 64, register, false), false);
  assert.equal(h.routing.status().counters.pim_ignored, 1);
  assert.equal(h.routing.status().counters.pim_invalid, 0);
  await h.routing.stop();
});

Deno.test("a configuration change keeps what was learned: new IGMP timers keep the groups; a PIM interface taken away says goodbye before its socket closes", async () => {
  const h = harness();
  const f = facts(["a", 2, 0x0a000101], ["b", 3, 0x0a000201]);
  await h.routing.apply(cfg({ igmp: { interfaces: ["a"] }, pim: { interfaces: ["a", "b"] } }), f);
  h.sockets[0].deliver(
    buildIpv4("10.0.1.7", "239.9.9.1", 2, 1, buildHostMessage("report2", "239.9.9.1"), true),
    false,
  );
  const pimB = h.sockets[2];
  const sentBefore = pimB.sent.length;
  await h.routing.apply(
    cfg({
      igmp: { interfaces: ["a"], query_interval_ms: 3000, query_response_ms: 1000 },
      pim: { interfaces: ["a"], dr_priority: 7 },
    }),
    f,
  );
  assert.deepEqual(
    [...h.routing.demand().igmp.get("a")!],
    ["239.9.9.1"],
    "the group survived the new timers",
  );
  assert.equal(h.sockets.length, 3, "no socket re-opened");
  assert.equal(pimB.closed, true);
  const last = parseIpv4(pimB.sent.at(-1)!.packet);
  const goodbye = last.ok ? parsePim(last.value.payload) : last;
  assert.ok(
    pimB.sent.length > sentBefore && goodbye.ok && "hello" in goodbye.value &&
      goodbye.value.hello.holdtimeS === 0,
    "a Hello with holdtime 0 on b",
  );
  await h.routing.stop();
});

Deno.test({
  name:
    "an MSDP local address not on this host waits (listed) instead of refusing the configuration; the peer stays configured",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const h = harness();
    await h.routing.apply(
      cfg({
        msdp: { peers: [{ address: "192.0.2.78", local: "192.0.2.77" }], connect_retry_ms: 1000 },
      }),
      facts(),
    );
    const st = h.routing.status();
    assert.deepEqual(st.waiting.map((w) => [w.interface, w.protocol]), [["192.0.2.77", "msdp"]]);
    assert.equal(st.msdp.peers.length, 1);
    await h.routing.stop();
  },
});

Deno.test("MLD: a socket per mld interface with a link-local address; queries go to ff02::1 from it with a hop-by-hop Router Alert; a report makes an IPv6 group present", async () => {
  const h = harness();
  await h.routing.apply(
    cfg({ mld: { interfaces: ["v6", "nolink"] } }),
    facts(["v6", 7, 0], ["nolink", 8, 0]),
  );
  assert.deepEqual(h.routing.status().waiting, [{
    interface: "nolink",
    protocol: "mld",
    reason: "no IPv6 link-local address",
  }]);
  assert.deepEqual(h.sockets.map((s) => s.ifindex), [7]);
  const q = parseIpv6Icmp(h.sockets[0].sent[0].packet);
  assert.ok(
    q.ok && q.value.source === "fe80::1" && q.value.destination === "ff02::1" &&
      q.value.routerAlert && q.value.hopLimit === 1,
  );
  assert.deepEqual([...h.sockets[0].sent[0].mac], [0x33, 0x33, 0, 0, 0, 1]);
  const report = buildIpv6Mld(
    "fe80::9",
    "ff02::16",
    buildMldReport2([{ type: 4, group: "ff3e::9:1", sources: [] }]),
  );
  h.sockets[0].deliver(report, false);
  assert.deepEqual([...h.routing.demand().igmp.get("v6")!], ["ff3e::9:1"]);
  assert.equal(h.routing.status().mld.interfaces[0].groups[0].version, 2, "shown as MLDv2");
  const bad = report.slice();
  bad[bad.length - 1] ^= 1;
  h.sockets[0].deliver(bad, false);
  assert.equal(h.routing.status().counters.mld_invalid, 1);
  await h.routing.stop();
});

Deno.test("on a link where PIM runs too, IGMP receivers count only while mcr is the DR (another DR forwards for them)", async () => {
  const h = harness();
  await h.routing.apply(
    cfg({ igmp: { interfaces: ["a"] }, pim: { interfaces: ["a"] } }),
    facts(["a", 2, 0x0a000101]),
  );
  const igmpSock = h.sockets.find((x) => x.proto === 2)!;
  const pimSock = h.sockets.find((x) => x.proto === 103)!;
  igmpSock.deliver(
    buildIpv4("10.0.1.7", "239.9.9.1", 2, 1, buildHostMessage("report2", "239.9.9.1"), true),
    false,
  );
  await settled();
  assert.deepEqual(
    [...h.routing.demand().igmp.get("a") ?? []],
    ["239.9.9.1"],
    "mcr alone on the link: it is the DR",
  );
  const changes = h.demandChanges();
  pimSock.deliver(
    buildIpv4("10.0.1.9", "224.0.0.13", 103, 1, buildHello(105, 1, 42), false),
    false,
  );
  assert.equal(h.routing.status().pim.interfaces[0].dr, "10.0.1.9");
  await settled();
  assert.equal(
    h.routing.demand().igmp.get("a"),
    undefined,
    "a router with a higher address is DR: its receivers are its job",
  );
  assert.ok(h.demandChanges() > changes, "and the data plane is told");
  await h.routing.stop();
});
