/**
 * The querier watch keeps the last IGMP or MLD query heard per link where
 * groups are joined, ignores everything else (reports, garbage), follows
 * the links as they change, and records a socket the kernel refuses.
 */
import assert from "node:assert/strict";
import { buildHostMessage, buildQuery } from "../../src/protocols/igmp.ts";
import { buildIpv4, buildIpv6Mld } from "../../src/protocols/ip_packet.ts";
import { buildMldQuery } from "../../src/protocols/mld.ts";
import type { ProtocolSocket } from "../../src/supervisor/routing_types.ts";
import { QuerierWatch, queryIn } from "../../src/supervisor/querier_watch.ts";

class FakeSocket implements ProtocolSocket {
  onPacket: (p: Uint8Array, cut: boolean) => void = () => {};
  closed = false;
  constructor(readonly ifindex: number, readonly family: 4 | 6, readonly proto: number) {}
  follow(onPacket: (p: Uint8Array, cut: boolean) => void): void {
    this.onPacket = onPacket;
  }
  send(): void {}
  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

const igmpQuery = (from: string, version: 2 | 3) =>
  buildIpv4(from, "224.0.0.1", 2, 1, buildQuery(version, "0.0.0.0", 1000), true);

Deno.test("queryIn: IGMPv2/v3 and MLDv1/v2 queries are found; reports and garbage are not", () => {
  assert.deepEqual(queryIn(igmpQuery("10.0.0.1", 3), 4), { from: "10.0.0.1", version: "IGMPv3" });
  assert.deepEqual(queryIn(igmpQuery("10.0.0.9", 2), 4), { from: "10.0.0.9", version: "IGMPv2" });
  const mld2 = buildIpv6Mld("fe80::1", "ff02::1", buildMldQuery(2, "::", 1000));
  assert.deepEqual(queryIn(mld2, 6), { from: "fe80::1", version: "MLDv2" });
  const mld1 = buildIpv6Mld("fe80::2", "ff02::1", buildMldQuery(1, "::", 1000));
  assert.deepEqual(queryIn(mld1, 6), { from: "fe80::2", version: "MLDv1" });
  const report = buildIpv4(
    "10.0.0.5",
    "239.1.1.1",
    2,
    1,
    buildHostMessage("report2", "239.1.1.1"),
    true,
  );
  assert.equal(queryIn(report, 4), null);
  for (let i = 0; i < 2000; i++) {
    const junk = crypto.getRandomValues(new Uint8Array(i % 80));
    assert.equal(queryIn(junk, 4), null);
    assert.equal(queryIn(junk, 6), null);
  }
  const cut = igmpQuery("10.0.0.1", 3).subarray(0, 30);
  assert.equal(queryIn(cut, 4), null);
});

Deno.test("the watch listens where groups are joined, keeps the last query, and follows changes", async () => {
  let now = 1000;
  const opened: FakeSocket[] = [];
  const w = new QuerierWatch((ifindex, family, proto) => {
    const s = new FakeSocket(ifindex, family, proto);
    opened.push(s);
    return s;
  }, () => now);
  w.sync([{ interface: "eth1", family: 4, ifindex: 2 }, {
    interface: "eth1",
    family: 6,
    ifindex: 2,
  }]);
  assert.deepEqual(opened.map((s) => [s.family, s.proto]), [[4, 2], [6, 58]]);
  assert.equal(w.seen()[0].querier, null);
  now = 5000;
  opened[0].onPacket(igmpQuery("10.0.0.1", 3), false);
  opened[0].onPacket(
    buildIpv4("10.0.0.5", "239.1.1.1", 2, 1, buildHostMessage("report2", "239.1.1.1"), true),
    false,
  );
  const v4 = w.seen().find((s) => s.family === 4)!;
  assert.deepEqual([v4.querier, v4.version, v4.last_query_at_ms, v4.queries, v4.since_ms], [
    "10.0.0.1",
    "IGMPv3",
    5000,
    1,
    1000,
  ]);
  // The same links again: nothing reopened, what was heard kept.
  w.sync([{ interface: "eth1", family: 4, ifindex: 2 }, {
    interface: "eth1",
    family: 6,
    ifindex: 2,
  }]);
  assert.equal(opened.length, 2);
  // eth1 re-created (new ifindex) and IPv6 gone: the old sockets closed, a new one opened.
  w.sync([{ interface: "eth1", family: 4, ifindex: 7 }]);
  assert.ok(opened[0].closed && opened[1].closed);
  assert.equal(opened.length, 3);
  assert.equal(opened[2].ifindex, 7);
  assert.equal(w.seen().length, 1);
  assert.equal(w.seen()[0].querier, null, "a new link starts unheard");
  await w.closeAll();
  assert.ok(opened[2].closed);
  assert.deepEqual(w.seen(), []);
});

Deno.test("a socket the kernel refuses is the link's error; the watch does not throw", () => {
  const w = new QuerierWatch(() => {
    throw new Error("Operation not permitted");
  });
  w.sync([{ interface: "eth1", family: 4, ifindex: 2 }]);
  assert.match(w.seen()[0].error!, /not permitted/);
});
