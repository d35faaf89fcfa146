import assert from "node:assert/strict";
import { createApp } from "../../src/api/app.ts";
import { documentedPath } from "../../src/api/openapi.ts";
import { ConfigError } from "../../src/config/errors.ts";
import { ConfigFile } from "../../src/config/config_file.ts";
import { persistTo } from "../../src/config/persist.ts";
import { BASE_CONFIG, fakeDeps, FakeRelay } from "../helpers/fake_relay.ts";
import { createLogger } from "../../src/log.ts";

const RULE2 = {
  name: "cam2",
  input: { interface: "eth1", group: "239.1.1.2", port: 5002 },
  outputs: [{ interface: "eth2", group: "239.9.9.8", port: 5098, ttl: 4 }],
};

function json(method: string, body: unknown, headers: Record<string, string> = {}): RequestInit {
  return {
    method,
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  };
}

Deno.test("POST /api/v1/rules adds a rule, applies it and persists it", async () => {
  const relay = new FakeRelay(structuredClone(BASE_CONFIG));
  const persisted: unknown[] = [];
  const app = createApp(
    fakeDeps(relay, { persist: (c) => Promise.resolve(void persisted.push(c)) }),
  );
  const res = await app.request("/api/v1/rules", json("POST", RULE2));
  assert.equal(res.status, 201);
  assert.deepEqual((await res.json()).added, ["cam2"]);
  assert.deepEqual(relay.current.rules.map((r) => r.name), ["cam1", "cam2"]);
  assert.equal(persisted.length, 1);
  const get = await app.request("/api/v1/rules/cam2");
  assert.equal(get.status, 200);
  assert.equal((await get.json()).outputs[0].ttl, 4);
});

Deno.test("POST /api/v1/rules takes an IPv6 SSM rule with translated and routed outputs", async () => {
  const relay = new FakeRelay(structuredClone(BASE_CONFIG));
  const app = createApp(fakeDeps(relay));
  const rule = {
    name: "v6",
    input: { interface: "eth1", group: "ff3e::1:1", port: 5010, source: "2001:db8::10" },
    outputs: [
      { interface: "eth2", group: "239.9.9.10", port: 6010 },
      { egress: "routed", address: "2001:db8:9::2", port: 6011, ttl: 9 },
    ],
  };
  const res = await app.request("/api/v1/rules", json("POST", rule));
  assert.equal(res.status, 201);
  assert.deepEqual(relay.current.rules.find((r) => r.name === "v6"), rule);
});

Deno.test("POST /api/v1/rules with an existing name is 409 and changes nothing", async () => {
  const relay = new FakeRelay(structuredClone(BASE_CONFIG));
  const app = createApp(fakeDeps(relay));
  const res = await app.request("/api/v1/rules", json("POST", { ...RULE2, name: "cam1" }));
  assert.equal(res.status, 409);
  assert.equal(relay.applied.length, 0);
});

Deno.test("invalid rule bodies get 4xx with the path of every bad field and change nothing", async (t) => {
  const cases: [string, unknown, number, string[]][] = [
    ["unknown key", { ...RULE2, colour: "red" }, 400, [""]],
    ["non-multicast group", { ...RULE2, input: { ...RULE2.input, group: "10.0.0.1" } }, 400, [
      "input.group",
    ]],
    ["port out of range", { ...RULE2, input: { ...RULE2.input, port: 70000 } }, 400, [
      "input.port",
    ]],
    ["TTL out of range", { ...RULE2, outputs: [{ ...RULE2.outputs[0], ttl: 0 }] }, 400, [
      "outputs[0].ttl",
    ]],
    ["wrong type", { ...RULE2, input: { ...RULE2.input, port: "5002" } }, 400, ["input.port"]],
    ["no outputs", { ...RULE2, outputs: [] }, 400, ["outputs"]],
    [
      "output feeding an input back (loop)",
      { ...RULE2, outputs: [{ interface: "eth1", group: "239.1.1.1", port: 5001 }] },
      422,
      ["rules[1].outputs[0]"],
    ],
    ["duplicate input", { ...RULE2, input: BASE_CONFIG.rules[0].input }, 422, ["rules[1].input"]],
    [
      "unicast address on an l2 output",
      { ...RULE2, outputs: [{ interface: "eth2", address: "10.9.0.2", port: 6000 }] },
      400,
      ["outputs[0].address"],
    ],
    [
      "IPv4 source filter on an IPv6 group",
      { ...RULE2, input: { ...RULE2.input, group: "ff3e::2", source: "10.0.0.1" } },
      400,
      ["input.source"],
    ],
  ];
  for (const [name, body, status, paths] of cases) {
    await t.step(name, async () => {
      const relay = new FakeRelay(structuredClone(BASE_CONFIG));
      const app = createApp(fakeDeps(relay));
      const res = await app.request("/api/v1/rules", json("POST", body));
      assert.equal(res.status, status);
      const err = await res.json();
      for (const p of paths) {
        assert.ok(
          err.errors.some((i: { path: string }) => i.path.startsWith(p)),
          JSON.stringify(err),
        );
      }
      assert.equal(relay.applied.length, 0);
      assert.deepEqual(relay.current, BASE_CONFIG);
    });
  }
});

Deno.test("malformed JSON is 400, a wrong content type 415, an oversized body 413, deep nesting 400", async () => {
  const relay = new FakeRelay(structuredClone(BASE_CONFIG));
  const app = createApp(fakeDeps(relay, { bodyLimit: 4096 }));
  const malformed = await app.request("/api/v1/rules", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: "{nope",
  });
  assert.equal(malformed.status, 400);
  const text = await app.request("/api/v1/rules", {
    method: "POST",
    headers: { "content-type": "text/plain" },
    body: "{}",
  });
  assert.equal(text.status, 415);
  const big = await app.request(
    "/api/v1/rules",
    json("POST", { ...RULE2, pad: "x".repeat(10_000) }),
  );
  assert.equal(big.status, 413);
  const deep = await app.request("/api/v1/rules", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: "[".repeat(2000) + "]".repeat(2000),
  });
  assert.equal(deep.status, 400);
  assert.equal(relay.applied.length, 0);
});

Deno.test("PUT /api/v1/rules/:name replaces; a name mismatch is 422; an unknown name 404", async () => {
  const relay = new FakeRelay(structuredClone(BASE_CONFIG));
  const app = createApp(fakeDeps(relay));
  const changed = {
    ...BASE_CONFIG.rules[0],
    outputs: [{ interface: "eth3", group: "239.9.9.7", port: 6000 }],
  };
  assert.equal((await app.request("/api/v1/rules/cam1", json("PUT", changed))).status, 200);
  assert.equal(relay.current.rules[0].outputs[0].interface, "eth3");
  assert.equal(
    (await app.request("/api/v1/rules/cam1", json("PUT", { ...changed, name: "other" }))).status,
    422,
  );
  assert.equal(
    (await app.request("/api/v1/rules/nope", json("PUT", { ...changed, name: "nope" }))).status,
    404,
  );
  assert.equal(relay.applied.length, 1);
});

Deno.test("DELETE /api/v1/rules/:name removes the rule; deleting it again is 404", async () => {
  const relay = new FakeRelay(structuredClone(BASE_CONFIG));
  const app = createApp(fakeDeps(relay));
  assert.equal((await app.request("/api/v1/rules/cam1", { method: "DELETE" })).status, 200);
  assert.equal(relay.current.rules.length, 0);
  assert.equal((await app.request("/api/v1/rules/cam1", { method: "DELETE" })).status, 404);
});

Deno.test("PUT /api/v1/config is validated whole: one bad rule rejects all of it", async () => {
  const relay = new FakeRelay(structuredClone(BASE_CONFIG));
  const app = createApp(fakeDeps(relay));
  const bad = {
    rules: [RULE2, {
      ...RULE2,
      name: "x",
      input: { ...RULE2.input, port: 5003, group: "1.2.3.4" },
    }],
  };
  const res = await app.request("/api/v1/config", json("PUT", bad));
  assert.equal(res.status, 400);
  assert.ok(
    (await res.json()).errors.some((i: { path: string }) => i.path === "rules[1].input.group"),
  );
  assert.equal(relay.applied.length, 0);
  const good = await app.request("/api/v1/config", json("PUT", { rules: [RULE2] }));
  assert.equal(good.status, 200);
  assert.deepEqual(relay.current.rules.map((r) => r.name), ["cam2"]);
});

Deno.test("a configuration the relay cannot apply is 422 and nothing is persisted", async () => {
  const relay = new FakeRelay(structuredClone(BASE_CONFIG));
  let persisted = 0;
  const app = createApp(fakeDeps(relay, { persist: () => Promise.resolve(void persisted++) }));
  relay.failNext = new ConfigError([{
    path: ["rules", 1, "input", "interface"],
    message: "interface not usable",
  }], "interfaces");
  const res = await app.request("/api/v1/rules", json("POST", RULE2));
  assert.equal(res.status, 422);
  assert.equal((await res.json()).errors[0].path, "rules[1].input.interface");
  assert.equal(persisted, 0);
});

Deno.test("with a token, mutations without it or with a wrong one are 401; the query string is not accepted", async () => {
  const token = "s3cret-token-0123456789";
  const relay = new FakeRelay(structuredClone(BASE_CONFIG));
  const app = createApp(fakeDeps(relay, { token }));
  assert.equal((await app.request("/api/v1/rules", json("POST", RULE2))).status, 401);
  assert.equal(
    (await app.request("/api/v1/rules", json("POST", RULE2, { authorization: "Bearer wrong" })))
      .status,
    401,
  );
  assert.equal(
    (await app.request(`/api/v1/rules?token=${token}`, json("POST", RULE2))).status,
    401,
  );
  assert.equal(
    (await app.request(`/api/v1/rules?access_token=${token}`, json("POST", RULE2))).status,
    401,
  );
  assert.equal(
    (await app.request("/api/v1/rules", json("POST", RULE2, { authorization: `Basic ${token}` })))
      .status,
    401,
  );
  assert.equal(relay.applied.length, 0);
  assert.equal((await app.request("/api/v1/rules")).status, 200, "reads stay open on loopback");
  assert.equal(
    (await app.request("/api/v1/rules", json("POST", RULE2, { authorization: `Bearer ${token}` })))
      .status,
    201,
  );
});

Deno.test("on a non-loopback listen every route but /health needs the token, and no response contains it", async () => {
  const token = "another-secret-token-42";
  const app = createApp(
    fakeDeps(new FakeRelay(structuredClone(BASE_CONFIG)), { token, tokenForReads: true }),
  );
  for (
    const path of [
      "/api/v1/rules",
      "/api/v1/config",
      "/metrics",
      "/api/v1/stats",
      "/api/v1/../v1/rules",
      "//api/v1/rules",
    ]
  ) {
    assert.equal((await app.request(path)).status, 401, path);
  }
  assert.equal((await app.request("/health")).status, 200);
  const ok = await app.request("/api/v1/config", { headers: { authorization: `Bearer ${token}` } });
  assert.equal(ok.status, 200);
  assert.ok(!(await ok.text()).includes(token));
});

Deno.test("GET /health is 503 with reasons when a rule is silent beyond its window", async () => {
  const relay = new FakeRelay(structuredClone(BASE_CONFIG));
  const app = createApp(fakeDeps(relay));
  assert.equal((await app.request("/health")).status, 200);
  const res = await app.request("/health?stale_ms=50");
  assert.equal(res.status, 503);
  const body = await res.json();
  assert.equal(body.status, "critical");
  assert.match(body.reasons[0], /rule cam1 silent/);
  assert.equal((await app.request("/health?stale_ms=abc")).status, 400);
});

Deno.test("GET /api/v1/openapi.json describes every route with schemas generated from zod", async () => {
  const app = createApp(fakeDeps(new FakeRelay(structuredClone(BASE_CONFIG))));
  const doc = await (await app.request("/api/v1/openapi.json")).json();
  assert.equal(doc.openapi, "3.1.0");
  // Every route the app serves (read from the app itself, not listed here) is in the document.
  const served = app.routes
    .filter((r) => r.method !== "ALL" && !r.path.includes("/debug/"))
    .map((r) => ({
      method: r.method.toLowerCase(),
      path: documentedPath(r.path),
    }));
  assert.ok(served.length >= 15, `${served.length} routes found`);
  const missing = served.filter((r) => !doc.paths[r.path]?.[r.method]).map((r) =>
    `${r.method} ${r.path}`
  );
  assert.deepEqual(missing, [], "routes missing from the OpenAPI document");
  const rule = doc.components.schemas.Rule;
  // input or merge: exactly one (the schema's own check; JSON Schema shows both as optional).
  assert.deepEqual(rule.required.sort(), ["name", "outputs"]);
  assert.equal(rule.additionalProperties, false);
  assert.equal(rule.properties.input.properties.port.maximum, 65535);
  assert.equal(rule.properties.merge.properties.legs.minItems, 2);
  assert.equal(rule.properties.merge.properties.legs.items.properties.port.maximum, 65535);
});

Deno.test("PUT /api/v1/log-level changes the level; a bad level is 400", async () => {
  const deps = fakeDeps(new FakeRelay(structuredClone(BASE_CONFIG)));
  const app = createApp(deps);
  assert.equal(
    (await app.request("/api/v1/log-level", json("PUT", { level: "debug" }))).status,
    200,
  );
  assert.equal(deps.logger.level, "debug");
  assert.equal(
    (await app.request("/api/v1/log-level", json("PUT", { level: "loud" }))).status,
    400,
  );
});

Deno.test("unknown routes are 404 JSON", async () => {
  const app = createApp(fakeDeps(new FakeRelay(structuredClone(BASE_CONFIG))));
  const res = await app.request("/api/v2/nothing");
  assert.equal(res.status, 404);
  assert.equal((await res.json()).code, "not_found");
});

Deno.test("a change the relay refuses as restart-only is 409 restart_required naming the key, and nothing changes", async () => {
  const { RestartRequiredError } = await import("../../src/supervisor/errors.ts");
  const relay = new FakeRelay(structuredClone(BASE_CONFIG));
  relay.failNext = new RestartRequiredError("api");
  const persisted: unknown[] = [];
  const app = createApp(
    fakeDeps(relay, { persist: (c) => Promise.resolve(void persisted.push(c)) }),
  );
  const res = await app.request(
    "/api/v1/config",
    json("PUT", { ...BASE_CONFIG, api: { listen: "127.0.0.1:9999" } }),
  );
  assert.equal(res.status, 409);
  const body = await res.json();
  assert.equal(body.code, "restart_required");
  assert.equal(body.key, "api");
  assert.deepEqual(relay.current, BASE_CONFIG);
  assert.equal(persisted.length, 0);
});

Deno.test("a change that cannot be persisted is 503 persist_failed and is not in force", async () => {
  const relay = new FakeRelay(structuredClone(BASE_CONFIG));
  const { PersistFailedError } = await import("../../src/supervisor/errors.ts");
  const app = createApp(
    fakeDeps(relay, {
      persist: () =>
        Promise.reject(new PersistFailedError(new Error("No space left on device (os error 28)"))),
    }),
  );
  const res = await app.request("/api/v1/rules", json("POST", RULE2));
  assert.equal(res.status, 503);
  const body = await res.json();
  assert.equal(body.code, "persist_failed");
  assert.match(body.detail, /No space left/);
  assert.deepEqual(
    relay.current.rules.map((r) => r.name),
    ["cam1"],
    "rolled back: the rule is not running",
  );
  const again = await app.request("/api/v1/rules", json("POST", RULE2));
  assert.equal(again.status, 503, "a retry meets the same refusal, never 409 already exists");
});

Deno.test("GET /metrics renders the residence-time histogram per worker: cumulative buckets ending at +Inf, sum in seconds, count", async () => {
  const { parsePrometheus } = await import("../helpers/prom_parse.ts");
  const relay = new FakeRelay(structuredClone(BASE_CONFIG));
  const stats = relay.stats();
  stats.workers[0].counters = {
    ...stats.workers[0].counters,
    residence_le_25us: 3,
    residence_le_5000us: 2,
    residence_le_inf: 1,
    residence_sum_us: 400_075,
    residence_count: 6,
  };
  relay.stats = () => stats;
  const res = await createApp(fakeDeps(relay)).request("/metrics");
  const m = parsePrometheus(await res.text());
  assert.equal(m.types.get("mcr_residence_seconds"), "histogram");
  const bucket = (le: string) =>
    m.samples.find((s) => s.name === "mcr_residence_seconds_bucket" && s.labels.le === le)?.value;
  assert.equal(bucket("0.00001"), 0);
  assert.equal(bucket("0.000025"), 3);
  assert.equal(bucket("0.005"), 5);
  assert.equal(bucket("+Inf"), 6, "+Inf holds every sample");
  assert.equal(m.samples.find((s) => s.name === "mcr_residence_seconds_count")?.value, 6);
  assert.equal(m.samples.find((s) => s.name === "mcr_residence_seconds_sum")?.value, 0.400075);
});

Deno.test("GET /api/v1/events streams Server-Sent Events as they are published", async () => {
  const deps = fakeDeps(new FakeRelay(structuredClone(BASE_CONFIG)));
  const app = createApp(deps);
  const res = await app.request("/api/v1/events");
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /text\/event-stream/);
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = (await reader.read()).value ?? "";
  assert.match(text, /event: hello/);
  deps.events!.publish("config", { added: ["cam9"] });
  while (!text.includes("cam9")) text += (await reader.read()).value ?? "";
  const block = text.split("\n\n").find((b) => b.includes("cam9"))!;
  assert.deepEqual(block.split("\n").sort(), [
    'data: {"added":["cam9"]}',
    "event: config",
    "id: 1",
  ]);
  deps.events!.closeAll();
  while (!(await reader.read()).done) { /* the stream ends */ }
});

Deno.test("every operation has a unique operationId and a summary; a known path with a wrong method is 405 with Allow", async () => {
  const app = createApp(fakeDeps(new FakeRelay(structuredClone(BASE_CONFIG))));
  const doc = await (await app.request("/api/v1/openapi.json")).json();
  const ids: string[] = [];
  for (
    const item of Object.values(doc.paths) as Record<
      string,
      { operationId?: string; summary?: string }
    >[]
  ) {
    for (const m of ["get", "put", "post", "delete"]) {
      if (!item[m]) continue;
      assert.ok(item[m].operationId, `${m} has an operationId`);
      assert.ok(item[m].summary, `${m} ${item[m].operationId} has a summary`);
      ids.push(item[m].operationId!);
    }
  }
  assert.equal(new Set(ids).size, ids.length, "operationIds are unique");
  assert.ok(ids.includes("getApiV1RulesByName"));
  const wrong = await app.request("/api/v1/stats", {
    method: "DELETE",
    headers: { origin: "http://localhost" },
  });
  assert.equal(wrong.status, 405);
  assert.equal(wrong.headers.get("allow"), "GET");
  const rule = await app.request("/api/v1/rules/cam1", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: "{}",
  });
  assert.equal(rule.status, 405);
  assert.equal(rule.headers.get("allow"), "DELETE, GET, PUT");
  assert.equal((await app.request("/api/v1/nowhere")).status, 404);
});

Deno.test("a change the file on disk refuses (edited since mcr read it) is 409 config_file_changed and is never applied, not even briefly", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const path = `${dir}/mcr.yaml`;
    Deno.writeTextFileSync(
      path,
      "rules:\n  - { name: cam1, input: { interface: eth1, group: 239.1.1.1, port: 5001 }, outputs: [{ interface: eth2, group: 239.9.9.9, port: 5099 }] }\n",
    );
    const file = new ConfigFile(path);
    const relay = new FakeRelay(await file.load());
    const app = createApp(fakeDeps(relay, { persist: persistTo(file) }));
    Deno.writeTextFileSync(path, Deno.readTextFileSync(path) + "# an operator's edit\n");
    const res = await app.request("/api/v1/rules", json("POST", RULE2));
    assert.equal(res.status, 409);
    assert.equal((await res.json()).code, "config_file_changed");
    assert.equal(relay.applied.length, 0, "never applied");
    assert.match(Deno.readTextFileSync(path), /an operator's edit/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("errors are RFC 9457 problem details: type (a page the relay serves), title, status, detail, code, and errors with JSON Pointers", async () => {
  const relay = new FakeRelay(structuredClone(BASE_CONFIG));
  const app = createApp(fakeDeps(relay));
  const res = await app.request(
    "/api/v1/rules",
    json("POST", {
      name: "cam2",
      input: { interface: "eth1", group: "239.1.1.2", port: 500001 },
      outputs: [{ interface: "eth2", group: "239.9.9.2", port: "x" }],
    }),
  );
  assert.equal(res.status, 400);
  assert.equal(res.headers.get("content-type"), "application/problem+json");
  const p = await res.json();
  assert.equal(p.type, "/problems/invalid_rule");
  assert.equal(p.title, "The rule is not valid");
  assert.equal(p.status, 400);
  assert.equal(p.code, "invalid_rule");
  assert.match(p.detail, /invalid rule/);
  assert.deepEqual(
    p.errors.map((
      e: { pointer: string; path: string; detail: string },
    ) => [e.pointer, e.path, e.detail]),
    [
      ["/input/port", "input.port", "must be at most 65535"],
      ["/outputs/0/port", "outputs[0].port", "must be a number (got text)"],
    ],
    "plain words, no zod wording",
  );
  const page = await app.request(p.type);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /The rule is not valid/);
  assert.equal((await app.request("/problems/no_such_type")).status, 404);
  // The guards answer problems too: 405 with Allow, 404, 421.
  const del = await app.request("/api/v1/stats", { method: "DELETE" });
  assert.equal(del.status, 405);
  assert.equal(del.headers.get("content-type"), "application/problem+json");
  const d = await del.json();
  assert.equal(d.code, "method_not_allowed");
  assert.deepEqual(d.allow, ["GET"]);
  assert.equal((await (await app.request("/nope")).json()).type, "/problems/not_found");
  const local = createApp(fakeDeps(relay, { hosts: { loopback: true, allowed: [] } }));
  const rebound = await local.request("/api/v1/stats", { headers: { host: "evil.example" } });
  assert.equal(rebound.status, 421);
  assert.equal((await rebound.json()).code, "misdirected_host");
});

Deno.test("If-Match: a read-modify-write of the config or a rule is refused (412) when another change came between; the ETag of the read otherwise", async () => {
  const relay = new FakeRelay(structuredClone(BASE_CONFIG));
  const app = createApp(fakeDeps(relay));
  const read = await app.request("/api/v1/config");
  const etag = read.headers.get("etag")!;
  assert.match(etag, /^"[0-9a-f]{32}"$/);
  const cfg = await read.json();
  // Client B changes the config meanwhile.
  const b = await app.request(
    "/api/v1/rules",
    json("POST", {
      ...BASE_CONFIG.rules[0],
      name: "camB",
      input: { interface: "eth1", group: "239.1.1.7", port: 5007 },
    }),
  );
  assert.equal(b.status, 201);
  // Client A's write based on its stale read is refused, and B's rule stays.
  const put = (tag: string) =>
    app.request("/api/v1/config", {
      method: "PUT",
      headers: { "content-type": "application/json", "if-match": tag },
      body: JSON.stringify({ ...cfg, workers: 2 }),
    });
  const stale = await put(etag);
  assert.equal(stale.status, 412);
  const p = await stale.json();
  assert.equal(p.code, "precondition_failed");
  assert.ok(relay.config().rules.some((r) => r.name === "camB"), "B's change was not overwritten");
  // Read again: the new ETag works.
  const fresh = (await app.request("/api/v1/config")).headers.get("etag")!;
  assert.notEqual(fresh, etag);
  assert.equal(p.etag, fresh, "the refusal names the ETag now in force");
  const ok = await put(fresh);
  assert.equal(ok.status, 200);
  assert.equal(relay.config().workers, 2);
  // Without If-Match, last writer wins as before; * matches anything in force.
  assert.equal((await put("*")).status, 200);
  // One rule: PUT and DELETE honour the rule's own ETag.
  const r1 = await app.request("/api/v1/rules/cam1");
  const tag1 = r1.headers.get("etag")!;
  const rule = await r1.json();
  await app.request("/api/v1/rules/cam1", {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ ...rule, outputs: [{ ...rule.outputs[0], port: 5100 }] }),
  });
  const del = await app.request("/api/v1/rules/cam1", {
    method: "DELETE",
    headers: { "if-match": tag1 },
  });
  assert.equal(del.status, 412);
  assert.ok(relay.config().rules.some((r) => r.name === "cam1"));
  const tag2 = (await app.request("/api/v1/rules/cam1")).headers.get("etag")!;
  const del2 = await app.request("/api/v1/rules/cam1", {
    method: "DELETE",
    headers: { "if-match": tag2 },
  });
  assert.equal(del2.status, 200);
});

Deno.test("a change whose turn comes after its client stopped waiting (Prefer: wait) is refused 503 and never applied; one within its wait is", async () => {
  const relay = new FakeRelay(structuredClone(BASE_CONFIG));
  const lines: string[] = [];
  const app = createApp(fakeDeps(relay, {
    logger: createLogger({ level: "info", write: (l) => lines.push(l) }),
  }));
  const rule = (name: string, port: number) => ({
    ...BASE_CONFIG.rules[0],
    name,
    input: { interface: "eth1", group: "239.1.1.9", port },
  });
  // Another source holds the queue for 1.5 s (a slow reload, say).
  const slow = relay.change(async (cfg) => {
    await new Promise((r) => setTimeout(r, 1500));
    return cfg;
  });
  const impatient = app.request("/api/v1/rules", {
    method: "POST",
    headers: { "content-type": "application/json", prefer: "wait=1" },
    body: JSON.stringify(rule("late", 5010)),
  });
  const patient = app.request("/api/v1/rules", {
    method: "POST",
    headers: { "content-type": "application/json", prefer: "wait=5" },
    body: JSON.stringify(rule("ontime", 5011)),
  });
  await slow;
  const late = await impatient;
  assert.equal(late.status, 503);
  assert.equal(late.headers.get("retry-after"), "1");
  assert.equal(late.headers.get("preference-applied"), "wait=1");
  const p = await late.json();
  assert.equal(p.code, "queue_timeout");
  assert.match(p.detail, /not applied/);
  assert.equal((await patient).status, 201);
  const names = relay.config().rules.map((r) => r.name);
  assert.ok(!names.includes("late"), "never applied after its client gave up");
  assert.ok(names.includes("ontime"));
  assert.ok(
    lines.some((l) => l.includes("its client stopped waiting") && l.includes('"wait_ms":1000')),
  );
});

Deno.test("adding a rule is idempotent: the same rule again is 200 with nothing changed; a different one of that name is 409", async () => {
  const relay = new FakeRelay(structuredClone(BASE_CONFIG));
  const app = createApp(fakeDeps(relay));
  const rule = {
    ...BASE_CONFIG.rules[0],
    name: "cam7",
    input: { interface: "eth1", group: "239.1.1.7", port: 5007 },
  };
  const post = (r: unknown) => app.request("/api/v1/rules", json("POST", r));
  assert.equal((await post(rule)).status, 201);
  const again = await post(structuredClone(rule));
  assert.equal(again.status, 200);
  const body = await again.json();
  assert.deepEqual([body.added, body.removed, body.changed], [[], [], []]);
  const other = await post({ ...rule, outputs: [{ ...rule.outputs[0], port: 6100 }] });
  assert.equal(other.status, 409);
  assert.equal((await other.json()).code, "rule_exists");
  assert.equal(relay.config().rules.filter((r) => r.name === "cam7").length, 1);
});
