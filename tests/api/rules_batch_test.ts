/**
 * POST /api/v1/rules:batch: many rules added and removed as one change, all
 * or nothing, the first bad rule named; bodies larger than other requests'.
 */
import assert from "node:assert/strict";
import { createApp } from "../../src/api/app.ts";
import { BASE_CONFIG, fakeDeps, FakeRelay } from "../helpers/fake_relay.ts";

const BATCH = "/api/v1/rules:batch";

function rule(i: number, name = `r${i}`) {
  return {
    name,
    input: { interface: "eth1", group: `239.10.${i >> 8}.${i & 255}`, port: 5000 },
    outputs: [
      { interface: "eth2", group: `239.200.${i >> 8}.${i & 255}`, port: 6000, ttl: 16 },
      { interface: "eth3", group: `239.201.${i >> 8}.${i & 255}`, port: 6001, ttl: 16 },
    ],
  };
}

function post(body: unknown): RequestInit {
  return {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  };
}

function setUp() {
  const relay = new FakeRelay(structuredClone(BASE_CONFIG));
  const persisted: unknown[] = [];
  const app = createApp(
    fakeDeps(relay, { persist: (c) => Promise.resolve(void persisted.push(c)) }),
  );
  return { relay, persisted, app };
}

Deno.test("a batch of 5,000 rules (a body over the 1 MiB other requests get) is one change: one apply, one persist", async () => {
  const { relay, persisted, app } = setUp();
  const add = Array.from({ length: 5000 }, (_, i) => rule(i));
  const body = post({ add, remove: ["cam1"] });
  assert.ok(String(body.body).length > 1024 * 1024, "the body is larger than the default limit");
  const res = await app.request(BATCH, body);
  assert.equal(res.status, 200);
  const result = await res.json();
  assert.equal(result.added.length, 5000);
  assert.deepEqual(result.removed, ["cam1"]);
  assert.equal(relay.applied.length, 1, "one apply");
  assert.equal(persisted.length, 1, "one persist");
  assert.equal(relay.current.rules.length, 5000);
  assert.ok(!relay.current.rules.some((r) => r.name === "cam1"));
  // Other routes keep their own limit.
  const big = await app.request("/api/v1/rules", post({ ...rule(1), pad: "x".repeat(1_100_000) }));
  assert.equal(big.status, 413);
});

Deno.test("a batch with one bad rule among 5,000 is refused whole, naming the first bad rule and its field", async () => {
  const { relay, persisted, app } = setUp();
  const add: Record<string, unknown>[] = Array.from({ length: 5000 }, (_, i) => rule(i));
  add[3210] = { ...rule(3210), outputs: [{ interface: "eth2", group: "239.1.1.1", port: 70000 }] };
  add[4000] = { ...rule(4000), input: { interface: "eth1", group: "not-an-address", port: 1 } };
  const res = await app.request(BATCH, post({ add }));
  assert.equal(res.status, 400);
  const err = await res.json();
  assert.equal(err.code, "invalid_rule");
  assert.match(err.detail, /add\[3210\] \(rule "r3210"\)/);
  assert.ok(err.errors.length > 0);
  assert.ok(
    err.errors.every((i: { path: string }) => i.path.startsWith("add[3210]")),
    JSON.stringify(err.errors),
  );
  assert.ok(err.errors.some((i: { path: string }) => i.path.includes("port")));
  assert.equal(relay.applied.length, 0);
  assert.equal(persisted.length, 0);
  assert.deepEqual(relay.current, BASE_CONFIG);
});

Deno.test("a batch that conflicts is refused whole: existing name 409, twice in the batch 400, unknown removal 404, duplicate input 422", async () => {
  const { relay, app } = setUp();
  const cases: [unknown, number, string, RegExp][] = [
    [{ add: [rule(1), rule(2, "cam1")] }, 409, "rule_exists", /add\[1\].*"cam1"/],
    [{ add: [rule(1), rule(2, "r1")] }, 400, "duplicate_name", /add\[1\] names "r1"/],
    [{ remove: ["cam1", "nope"] }, 404, "rule_not_found", /"nope"/],
    [{ remove: ["cam1", "cam1"] }, 400, "duplicate_name", /"cam1" twice/],
    [
      { add: [rule(1), { ...rule(1), name: "same-input" }] },
      422,
      "invalid_config",
      /invalid/,
    ],
    [{}, 400, "invalid_body", /invalid batch/],
    [{ add: [rule(1)], extra: 1 }, 400, "invalid_body", /invalid batch/],
  ];
  for (const [body, status, code, message] of cases) {
    const res = await app.request(BATCH, post(body));
    const err = await res.json();
    assert.equal(res.status, status, JSON.stringify(body));
    assert.equal(err.code, code);
    assert.match(err.detail, message);
  }
  assert.equal(relay.applied.length, 0);
  assert.deepEqual(relay.current, BASE_CONFIG);
});

Deno.test("a batch may remove a rule and add it again changed (a replacement) in one change", async () => {
  const { relay, app } = setUp();
  const changed = {
    ...BASE_CONFIG.rules[0],
    outputs: [{ interface: "eth2", group: "239.9.9.7", port: 5097 }],
  };
  const res = await app.request(BATCH, post({ remove: ["cam1"], add: [changed, rule(7)] }));
  assert.equal(res.status, 200);
  assert.equal(relay.applied.length, 1);
  assert.deepEqual(relay.current.rules.map((r) => r.name), ["cam1", "r7"]);
  assert.equal(relay.current.rules[0].outputs[0].port, 5097);
});

Deno.test("rules:batch answers only POST; other paths under /api/v1 are not mistaken for it", async () => {
  const { app } = setUp();
  const get = await app.request(BATCH);
  assert.equal(get.status, 405);
  assert.equal(get.headers.get("allow"), "POST");
  assert.equal((await app.request("/api/v1/rules:other", post({ add: [] }))).status, 404);
  assert.equal((await app.request("/api/v1/nothing-here")).status, 404);
});
