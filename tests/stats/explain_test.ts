/**
 * `mcr explain`'s judgement, step by step: a healthy rule is all ok, and each
 * broken step is the one named, with its hint (the namespace test breaks
 * the same steps on a real relay: tests/root/root_explain_test.ts).
 */
import assert from "node:assert/strict";
import type { Rule } from "../../src/config/schema.ts";
import { explain, type ExplainFacts, type ExplainStep } from "../../src/stats/explain.ts";
import { DROP_REASONS } from "../../src/stats/registry.ts";
import type { InterfaceState } from "../../src/stats/snapshot.ts";

const NOW = 1_800_000_000_000;

const RULE: Rule = {
  name: "cam1",
  input: { interface: "eth1", group: "239.1.1.1", port: 5001 },
  outputs: [
    { interface: "eth2", group: "239.9.9.1", port: 6001 },
    { egress: "routed", address: "10.9.9.9", port: 7001 },
  ],
} as Rule;

function iface(name: string, over: Partial<InterfaceState> = {}): InterfaceState {
  return {
    name,
    ifindex: name === "eth1" ? 2 : 3,
    up: true,
    present: true,
    mtu: 1500,
    mac: "02:00:00:00:00:01",
    ipv4: "10.0.0.2",
    ipv6: null,
    roles: ["input"],
    events: 0,
    rx_packets: 0,
    rx_dropped: 0,
    tx_packets: 0,
    tx_dropped: 0,
    ...over,
  };
}

function healthy(): ExplainFacts {
  return {
    now: NOW,
    uptime_s: 100,
    rule: RULE,
    stats: {
      name: "cam1",
      input: RULE.input!,
      counters: { packets: 5000, bytes: 5_000_000 },
      outputs: RULE.outputs.map((o) => ({
        ...o,
        counters: { packets: 5000, bytes: 0, ring_full: 0, too_big: 0, errors: 0, ttl_expired: 0 },
      })),
      silent_ms: 10,
      active: true,
    },
    interfaces: [iface("eth1"), iface("eth2")],
    memberships: [{ interface: "eth1", family: 4, memberships: ["239.1.1.1"] }],
    unicast_ports: [],
    queriers: [{
      interface: "eth1",
      family: 4,
      querier: "10.0.0.1",
      version: "IGMPv3",
      last_query_at_ms: NOW - 20_000,
      queries: 3,
      since_ms: NOW - 90_000,
      error: null,
    }],
    totals: { kernel_drops: 0, residence_count: 10, "residence_le_50us": 10 },
    rate: { pps: 50, bps: 400_000, loss_pps: 0, outputs: [] },
    rule_dropped_at: null,
    input_rx_pps: { eth1: 0 },
    drops_at: new Float64Array(DROP_REASONS.length),
    kernel_drops_at: 0,
    outputs_at: [{ sent_at_ms: NOW - 500, lost_at_ms: null }, {
      sent_at_ms: NOW - 500,
      lost_at_ms: null,
    }],
    errno: { routed: null, kick: null },
  };
}

function step(steps: ExplainStep[], name: ExplainStep["step"], n = 0): ExplainStep {
  const found = steps.filter((s) => s.step === name)[n];
  assert.ok(found, `a ${name} step`);
  return found;
}

/** Facts that have stopped arriving (no packet matched for 30 s). */
function silent(f: ExplainFacts): ExplainFacts {
  f.rate = { pps: 0, bps: 0, loss_pps: 0, outputs: [] };
  f.stats!.silent_ms = 30_000;
  return f;
}

Deno.test("a healthy rule: every step ok and the verdict ok, in path order", () => {
  const r = explain(healthy());
  assert.equal(r.verdict, "ok", JSON.stringify(r.steps, null, 1));
  assert.deepEqual(r.steps.map((s) => s.step), [
    "rule",
    "input_interface",
    "membership",
    "querier",
    "arrival",
    "drops",
    "output",
    "output",
    "residence",
  ]);
  assert.ok(r.steps.every((s) => s.status === "ok"));
  assert.match(
    step(r.steps, "querier").detail,
    /querier 10\.0\.0\.1 \(IGMPv3\), last query 20 s ago/,
  );
});

Deno.test("input interface down or absent: that step fails, with what to do", () => {
  const f = silent(healthy());
  f.interfaces = [iface("eth1", { up: false }), iface("eth2")];
  let r = explain(f);
  assert.equal(r.verdict, "fail");
  assert.equal(step(r.steps, "input_interface").status, "fail");
  assert.match(step(r.steps, "input_interface").detail, /eth1 is down/);
  assert.match(step(r.steps, "input_interface").hint!, /ip link set eth1 up/);
  f.interfaces = [iface("eth2")];
  r = explain(f);
  assert.match(step(r.steps, "input_interface").detail, /eth1 does not exist/);
});

Deno.test("group not joined: the membership step fails; a source-specific join is recognised", () => {
  const f = healthy();
  f.memberships = [{ interface: "eth1", family: 4, memberships: ["239.1.1.2"] }];
  assert.equal(step(explain(f).steps, "membership").status, "fail");
  f.rule = { ...RULE, input: { ...RULE.input!, source: "10.0.0.1" } };
  f.memberships = [{ interface: "eth1", family: 4, memberships: ["(10.0.0.1, 239.1.1.1)"] }];
  const m = step(explain(f).steps, "membership");
  assert.equal(m.status, "ok");
  assert.match(m.detail, /source-specific/);
});

Deno.test("no querier heard: a warning naming the link and what snooping switches need; an old one too", () => {
  const f = healthy();
  f.queriers = [{ ...f.queriers[0], querier: null, version: null, last_query_at_ms: null }];
  const r = explain(f);
  assert.equal(r.verdict, "warn");
  const q = step(r.steps, "querier");
  assert.equal(q.status, "warn");
  assert.match(q.detail, /no IGMP querier heard on eth1 in 90 s/);
  assert.match(q.hint!, /snoop/);
  f.queriers = [{ ...healthy().queriers[0], last_query_at_ms: NOW - 400_000 }];
  assert.equal(step(explain(f).steps, "querier").status, "warn");
});

Deno.test("nothing arriving: nothing on the link, frames of other streams only, or this stream's frames dropped (TTL 1)", () => {
  const f = silent(healthy());
  let a = step(explain(f).steps, "arrival");
  assert.equal(a.status, "fail");
  assert.match(a.detail, /no packet matched for 30 s, and nothing arrives on eth1/);
  assert.match(a.hint!, /check the sender, the path, and IGMP snooping/);
  // Frames arrive on the link, none for this rule: the wrong group or port at the sender.
  f.input_rx_pps = { eth1: 812.4 };
  const at = (name: string) => DROP_REASONS.findIndex((d) => d.name === name);
  const drops = new Float64Array(DROP_REASONS.length);
  drops[at("no_match")] = NOW - 2_000;
  f.drops_at = drops;
  f.totals = { ...f.totals, drop_no_match: 400 };
  a = step(explain(f).steps, "arrival");
  assert.match(a.detail, /while eth1 receives 812 frames\/s/);
  assert.match(
    a.hint!,
    /none of them is for 239\.1\.1\.1:5001: check the sender's group, port and source/,
  );
  assert.match(a.hint!, /relay-wide now: no_match \(400\)/);
  // This rule's own frames dropped (TTL 1 at ingress): told as such, with the reason.
  drops[at("ttl_expired")] = NOW - 1_000;
  f.totals = { ...f.totals, drop_ttl_expired: 9 };
  f.stats!.counters.dropped = 9;
  f.rule_dropped_at = NOW - 1_000;
  a = step(explain(f).steps, "arrival");
  assert.match(a.detail, /frames of this stream arrive and are dropped \(9 in all\)/);
  assert.match(a.hint!, /^ttl_expired \(9\): .*raise the sender's TTL/);
  assert.doesNotMatch(a.hint!, /no_match/, "another stream's drops are not this one's");
  // GSO: truncated frames on a link whose input does not say gso.
  f.rule_dropped_at = null;
  const drops2 = new Float64Array(DROP_REASONS.length);
  drops2[at("truncated")] = NOW - 1_000;
  f.drops_at = drops2;
  a = step(explain(f).steps, "arrival");
  assert.match(a.hint!, /gso: true/);
  // Long ago: not the explanation of now.
  drops2[at("truncated")] = NOW - 60_000;
  assert.doesNotMatch(step(explain(f).steps, "arrival").hint!, /gso/);
  // The drops step lists them with when they last occurred, most recent first.
  f.drops_at = drops;
  assert.match(
    step(explain(f).steps, "drops").detail,
    /ttl_expired 9 \(last 1 s ago\), no_match 400 \(last 2 s ago\)/,
  );
});

Deno.test("an output failing: route missing (errno by name), MTU too small, TTL, ring full", () => {
  const f = healthy();
  const out = f.stats!.outputs;
  out[1].counters = { ...out[1].counters, errors: 1200 };
  f.outputs_at = [f.outputs_at[0], { sent_at_ms: NOW - 60_000, lost_at_ms: NOW - 1_000 }];
  f.errno = { routed: "ENETUNREACH", kick: null };
  let r = explain(f);
  assert.equal(r.verdict, "fail");
  const o = step(r.steps, "output", 1);
  assert.equal(o.status, "fail");
  assert.equal(o.subject, "routed * 10.9.9.9:7001");
  assert.match(o.detail, /1200 sends refused by the kernel \(ENETUNREACH\)/);
  assert.match(o.hint!, /no route/);
  assert.equal(step(r.steps, "output", 0).status, "ok");

  const g = healthy();
  g.stats!.outputs[0].counters = { ...g.stats!.outputs[0].counters, too_big: 300 };
  g.interfaces = [iface("eth1"), iface("eth2", { mtu: 576 })];
  g.outputs_at = [{ sent_at_ms: null, lost_at_ms: NOW - 1_000 }, g.outputs_at[1]];
  r = explain(g);
  const m = step(r.steps, "output", 0);
  assert.equal(m.status, "fail");
  assert.match(m.detail, /300 copies larger than the MTU of eth2 \(576\)/);
  assert.match(m.hint!, /raise the MTU of eth2/);

  g.stats!.outputs[0].counters = { ...g.stats!.outputs[0].counters, too_big: 0, ttl_expired: 50 };
  assert.match(step(explain(g).steps, "output", 0).detail, /TTL 1/);
  g.stats!.outputs[0].counters = { ...g.stats!.outputs[0].counters, ttl_expired: 0, ring_full: 7 };
  g.outputs_at = [{ sent_at_ms: NOW - 500, lost_at_ms: NOW - 1_000 }, g.outputs_at[1]];
  const w = step(explain(g).steps, "output", 0);
  assert.equal(w.status, "warn", "still sending: losing, not failing");
  assert.match(w.detail, /losing: 7 copies dropped: the TX ring was full/);
});

Deno.test("a rule not in force or waiting fails at the first step", () => {
  const f = healthy();
  f.stats = undefined;
  assert.equal(step(explain(f).steps, "rule").status, "fail");
  const g = healthy();
  g.stats!.active = false;
  assert.match(step(explain(g).steps, "rule").detail, /waits/);
});

Deno.test("kernel drops now warn in the drops step; a slow relay warns in residence", () => {
  const f = healthy();
  f.kernel_drops_at = NOW - 3_000;
  f.totals = { ...f.totals, kernel_drops: 77 };
  const d = step(explain(f).steps, "drops");
  assert.equal(d.status, "warn");
  assert.match(d.detail, /77/);
  f.totals = { residence_count: 100, "residence_le_50us": 50, "residence_le_50000us": 50 };
  const r = step(explain(f).steps, "residence");
  assert.equal(r.status, "warn");
  assert.match(r.detail, /p99 ≤ 50000 µs/);
});

Deno.test("a merge's legs each get their interface, membership and querier steps, named", () => {
  const f = healthy();
  f.rule = {
    name: "m",
    merge: {
      legs: [
        { interface: "eth1", group: "239.1.1.1", port: 5001 },
        { interface: "eth3", group: "239.1.1.1", port: 5001 },
      ],
    },
    outputs: RULE.outputs,
  } as unknown as Rule;
  const r = explain(f);
  const inputs = r.steps.filter((s) => s.step === "input_interface");
  assert.equal(inputs.length, 2);
  assert.equal(inputs[1].subject, "eth3 239.1.1.1:5001");
  assert.equal(inputs[1].status, "fail", "eth3 does not exist");
});
