/** The IGMP router of one link (src/protocols/igmp_state.ts), time passed in by hand. */
import assert from "node:assert/strict";
import { IgmpRouter, type IgmpTimers } from "../../src/protocols/igmp_state.ts";
import { RecordType } from "../../src/protocols/igmp.ts";

const T: IgmpTimers = {
  version: 3,
  queryIntervalMs: 10_000,
  queryResponseMs: 2_000,
  lastMemberIntervalMs: 500,
  lastMemberCount: 2,
  robustness: 2,
  maxGroups: 100,
};
const GMI = 2 * 10_000 + 2_000;

const report2 = (group: string) => ({ kind: "report" as const, version: 2 as const, group });
const query = (group = "0.0.0.0") => ({
  kind: "query" as const,
  version: 3 as const,
  group,
  maxResponseMs: 1000,
  sources: [],
  robustness: 2,
  intervalS: 10,
});

Deno.test("a new querier sends robustness startup queries a quarter interval apart, then one per query interval", () => {
  const r = new IgmpRouter("10.0.0.5", T, 0);
  const sentAt: number[] = [];
  for (let now = 0; now <= 30_000; now += 100) {
    r.tick(now);
    if (r.outbox.splice(0).length > 0) sentAt.push(now);
  }
  assert.deepEqual(sentAt, [0, 2500, 5000, 15000, 25000]);
});

Deno.test("querier election: a query from a lower address silences this router until the other querier present interval passes", () => {
  const r = new IgmpRouter("10.0.0.5", T, 0);
  r.tick(0);
  r.outbox.length = 0;
  r.receive(query(), "10.0.0.9", 100); // higher address: ignored
  assert.equal(r.isQuerier(100), true);
  r.receive(query(), "10.0.0.2", 200);
  assert.equal(r.querier(200), "10.0.0.2");
  const oqpi = 2 * 10_000 + 2_000 / 2;
  for (let now = 200; now < 200 + oqpi; now += 500) r.tick(now);
  assert.equal(r.outbox.length, 0, "no query while the other querier is present");
  r.tick(200 + oqpi);
  assert.equal(r.isQuerier(200 + oqpi), true);
  assert.equal(r.outbox.length, 1, "it queries at once when it takes over");
});

Deno.test("a v2 report makes a group present for the group membership interval; a refresh extends it", () => {
  const r = new IgmpRouter("10.0.0.5", T, 0);
  assert.equal(
    r.receive(report2("239.1.1.1"), "10.0.0.7", 1000),
    true,
    "a change: the group appeared",
  );
  assert.equal(
    r.receive(report2("239.1.1.1"), "10.0.0.7", 5000),
    false,
    "a refresh is not a change",
  );
  assert.equal(r.present("239.1.1.1", 5000 + GMI - 1), true);
  assert.equal(r.tick(5000 + GMI), true, "expired: a change");
  assert.equal(r.present("239.1.1.1", 5000 + GMI), false);
  assert.deepEqual(r.groups(5000 + GMI), []);
});

Deno.test("link-local groups (224.0.0.0/24) and non-multicast addresses are never learned", () => {
  const r = new IgmpRouter("10.0.0.5", T, 0);
  for (const g of ["224.0.0.22", "224.0.0.13", "10.1.1.1", "255.255.255.255"]) {
    r.receive(report2(g), "10.0.0.7", 0);
  }
  r.receive(
    {
      kind: "report3",
      records: [{ type: RecordType.MODE_IS_EXCLUDE, group: "224.0.0.2", sources: [] }],
    },
    "10.0.0.7",
    0,
  );
  assert.deepEqual(r.presentGroups(0), []);
});

Deno.test("a v2 leave: the querier sends last-member-count group-specific queries and the group goes after the last member query time", () => {
  const r = new IgmpRouter("10.0.0.5", T, 0);
  r.tick(0);
  r.outbox.length = 0;
  r.receive(report2("239.1.1.1"), "10.0.0.7", 100);
  r.receive({ kind: "leave", group: "239.1.1.1" }, "10.0.0.7", 1000);
  const queries: { at: number; group: string }[] = [];
  let goneAt = -1;
  for (let now = 1000; now <= 2100; now += 50) {
    r.tick(now);
    for (const q of r.outbox.splice(0)) {
      if (q.group !== "0.0.0.0") queries.push({ at: now, group: q.group });
    }
    if (goneAt < 0 && !r.present("239.1.1.1", now)) goneAt = now;
  }
  assert.deepEqual(queries, [{ at: 1000, group: "239.1.1.1" }, { at: 1500, group: "239.1.1.1" }]);
  assert.equal(
    goneAt,
    2000,
    "present until the last member query time (2 x 500 ms) after the leave",
  );
});

Deno.test("a report after the leave (another listener) keeps the group", () => {
  const r = new IgmpRouter("10.0.0.5", T, 0);
  r.receive(report2("239.1.1.1"), "10.0.0.7", 0);
  r.receive({ kind: "leave", group: "239.1.1.1" }, "10.0.0.7", 1000);
  r.receive(report2("239.1.1.1"), "10.0.0.8", 1300);
  assert.equal(r.present("239.1.1.1", 5000), true);
});

Deno.test("a non-querier ignores v2 leaves but lowers the timer on the querier's group-specific query", () => {
  const r = new IgmpRouter("10.0.0.5", T, 0);
  r.receive(query(), "10.0.0.1", 0);
  r.receive(report2("239.1.1.1"), "10.0.0.7", 100);
  r.receive({ kind: "leave", group: "239.1.1.1" }, "10.0.0.7", 1000);
  assert.equal(r.present("239.1.1.1", 3000), true, "leave ignored by a non-querier");
  r.receive(query("239.1.1.1"), "10.0.0.1", 3000);
  assert.equal(
    r.present("239.1.1.1", 3000 + 2 * 1000),
    false,
    "gone after last member count x max response time",
  );
});

Deno.test("IGMPv3: EXCLUDE keeps the whole group; INCLUDE(S) keeps it while a source timer runs; TO_IN({}) and BLOCK lower them", () => {
  const r = new IgmpRouter("10.0.0.5", T, 0);
  r.receive(
    {
      kind: "report3",
      records: [{ type: RecordType.CHANGE_TO_EXCLUDE, group: "239.1.1.1", sources: [] }],
    },
    "10.0.0.7",
    0,
  );
  r.receive(
    {
      kind: "report3",
      records: [{
        type: RecordType.ALLOW_NEW_SOURCES,
        group: "232.1.1.1",
        sources: ["10.9.9.9", "10.9.9.8"],
      }],
    },
    "10.0.0.7",
    0,
  );
  const gs = r.groups(10);
  assert.deepEqual(gs.map((g) => [g.group, g.mode, g.sources, g.version]), [
    ["232.1.1.1", "include", ["10.9.9.8", "10.9.9.9"], 3],
    ["239.1.1.1", "exclude", [], 3],
  ]);
  r.receive(
    {
      kind: "report3",
      records: [{ type: RecordType.CHANGE_TO_INCLUDE, group: "239.1.1.1", sources: [] }],
    },
    "10.0.0.7",
    100,
  );
  r.receive(
    {
      kind: "report3",
      records: [{
        type: RecordType.BLOCK_OLD_SOURCES,
        group: "232.1.1.1",
        sources: ["10.9.9.9", "10.9.9.8"],
      }],
    },
    "10.0.0.7",
    100,
  );
  r.tick(100);
  assert.ok(
    r.outbox.some((q) => q.group === "239.1.1.1") && r.outbox.some((q) => q.group === "232.1.1.1"),
    "group-specific queries",
  );
  assert.deepEqual(r.presentGroups(100 + 1000), []);
});

Deno.test("nextDue() names the next time tick() has work: a query, a timeout", () => {
  const r = new IgmpRouter("10.0.0.5", T, 0);
  r.tick(0);
  assert.equal(r.nextDue(0), 2500);
  r.receive(report2("239.1.1.1"), "10.0.0.7", 1000);
  r.tick(2500);
  r.tick(5000);
  r.tick(15_000);
  assert.equal(r.nextDue(15_000), Math.min(25_000, 1000 + GMI));
});

Deno.test("a host cannot grow the group table without bound: reports for groups beyond maxGroups are refused and counted", () => {
  const r = new IgmpRouter("10.0.0.5", T, 0);
  for (let i = 0; i < 300; i++) r.receive(report2(`239.7.${i >> 8}.${i & 0xff}`), "10.0.0.7", 0);
  r.receive(
    {
      kind: "report3",
      records: [{ type: RecordType.ALLOW_NEW_SOURCES, group: "239.8.8.8", sources: ["10.1.1.1"] }],
    },
    "10.0.0.7",
    0,
  );
  assert.equal(r.presentGroups(0).length, 100);
  assert.equal(r.refused, 201);
  r.receive(report2("239.7.0.5"), "10.0.0.7", 10);
  assert.equal(r.refused, 201, "a refresh of a tracked group is never refused");
});
