/**
 * The OpenAPI document is one clients can generate from: valid OpenAPI 3.1
 * (checked by an independent validator), every operation served is in it
 * and nothing else, each with an operationId, a description and a schema for
 * every JSON response, and what the API really answers fits those schemas.
 */
import assert from "node:assert/strict";
import { Validator } from "@seriousme/openapi-schema-validator";
import { createApp } from "../../src/api/app.ts";
import { RESPONSE_SCHEMAS } from "../../src/api/responses.ts";
import { documentedPath } from "../../src/api/openapi.ts";
import { BASE_CONFIG, fakeDeps, FakeRelay } from "../helpers/fake_relay.ts";

type Json = Record<string, unknown>;
const METHODS = ["get", "put", "post", "delete", "patch"];

async function documentOf(): Promise<{ app: ReturnType<typeof createApp>; doc: Json }> {
  const app = createApp(fakeDeps(new FakeRelay(structuredClone(BASE_CONFIG))));
  return { app, doc: await (await app.request("/api/v1/openapi.json")).json() };
}

function operations(doc: Json): { method: string; path: string; op: Json }[] {
  return Object.entries(doc.paths as Record<string, Json>).flatMap(([path, item]) =>
    METHODS.filter((m) => item[m]).map((method) => ({ method, path, op: item[method] as Json }))
  );
}

Deno.test("the document is valid OpenAPI 3.1 to an independent validator, which does refuse a broken one", async () => {
  const { doc } = await documentOf();
  const v = new Validator();
  const result = await v.validate(doc);
  assert.ok(result.valid, JSON.stringify(result.errors, null, 2));
  const broken = structuredClone(doc);
  delete (broken.info as Json).version;
  assert.equal(
    (await new Validator().validate(broken)).valid,
    false,
    "the validator is not vacuous",
  );
});

Deno.test("every operation the app serves is in the document, and every operation in the document is served", async () => {
  const { app, doc } = await documentOf();
  const served = new Set(
    app.routes.filter((r) => r.method !== "ALL" && !r.path.includes("/debug/"))
      .map((r) => `${r.method.toLowerCase()} ${documentedPath(r.path)}`),
  );
  const documented = new Set(operations(doc).map((o) => `${o.method} ${o.path}`));
  assert.deepEqual([...served].filter((x) => !documented.has(x)), [], "served but not documented");
  assert.deepEqual([...documented].filter((x) => !served.has(x)), [], "documented but not served");
  assert.ok(served.size >= 19, `${served.size} operations`);
});

Deno.test("every operation has a unique operationId, a summary, a description, and a schema for every response body", async () => {
  const { doc } = await documentOf();
  const ids = new Set<string>();
  for (const { method, path, op } of operations(doc)) {
    const where = `${method} ${path}`;
    assert.match(String(op.operationId), /^[a-z]+[A-Za-z0-9]*$/, where);
    assert.ok(!ids.has(String(op.operationId)), `${where}: operationId repeated`);
    ids.add(String(op.operationId));
    assert.ok(String(op.summary ?? "").length > 0, `${where}: summary`);
    assert.ok(String(op.description ?? "").length > 0, `${where}: description`);
    for (const [status, r] of Object.entries(op.responses as Record<string, Json>)) {
      const content = r.content as Record<string, { schema?: Json }> | undefined;
      if (/^3\d\d$/.test(status)) {
        assert.equal(content, undefined, `${where} ${status}: a redirect has no body`);
        continue;
      }
      assert.ok(
        content && Object.keys(content).length > 0,
        `${where} ${status}: no body described`,
      );
      for (const [type, c] of Object.entries(content)) {
        assert.ok(c.schema, `${where} ${status} ${type}: no schema`);
        const ref = c.schema.$ref as string | undefined;
        if (ref) {
          assert.ok(
            ref.split("/").pop()! in (doc.components as { schemas: Json }).schemas,
            `${where}: ${ref} resolves`,
          );
        }
      }
    }
  }
});

Deno.test("what the API answers fits the schema the document names for that status", async () => {
  const { app, doc } = await documentOf();
  const checked: string[] = [];
  for (const { method, path, op } of operations(doc)) {
    if (method !== "get") continue;
    const url = path.replace("{name}", "cam1").replace("{code}", "invalid_config");
    const res = await app.request(url);
    const described = (op.responses as Record<string, Json>)[String(res.status)];
    assert.ok(described, `GET ${url} answered ${res.status}, which the document does not describe`);
    const type = (res.headers.get("content-type") ?? "").split(";")[0];
    const content = described.content as Record<string, { schema: Json }> | undefined;
    if (/json$/.test(type)) {
      assert.ok(
        content?.[type],
        `GET ${url} answered ${type}, which the document does not describe`,
      );
    }
    const schema = content?.[type]?.schema;
    const ref = schema?.$ref as string | undefined;
    if (!ref) {
      await res.body?.cancel();
      continue;
    }
    const name = ref.split("/").pop() as keyof typeof RESPONSE_SCHEMAS;
    const parsed = RESPONSE_SCHEMAS[name].safeParse(await res.json());
    assert.ok(
      parsed.success,
      `GET ${url} ${res.status} does not fit ${name}: ${JSON.stringify(parsed.error?.issues)}`,
    );
    checked.push(`${url} ${name}`);
  }
  assert.ok(checked.length >= 9, `JSON responses checked: ${checked.join(", ")}`);
  // And an error body fits Error.
  const bad = await app.request("/api/v1/rules", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: "{}",
  });
  assert.equal(bad.status, 400);
  assert.equal(bad.headers.get("content-type"), "application/problem+json");
  assert.ok(RESPONSE_SCHEMAS.Problem.safeParse(await bad.json()).success);
});

Deno.test("the document has servers and tags, every operation a tag, 401 where the token is needed, 403 on changes, 421 everywhere, and a 405 response", async () => {
  const { doc } = await documentOf();
  assert.deepEqual((doc.servers as Json[])[0].url, "/");
  const tags = new Set((doc.tags as { name: string }[]).map((t) => t.name));
  for (const { method, path, op } of operations(doc)) {
    const where = `${method} ${path}`;
    assert.ok(
      (op.tags as string[]).every((t) => tags.has(t)) && (op.tags as string[]).length === 1,
      where,
    );
    const r = op.responses as Record<string, Json>;
    const open = Array.isArray(op.security) && (op.security as unknown[]).length === 0;
    if (!open) assert.ok(r["401"], `${where}: 401`);
    if (method !== "get") assert.ok(r["403"], `${where}: 403`);
    assert.ok(r["421"], `${where}: 421`);
  }
  const responses = (doc.components as Json).responses as Record<string, Json>;
  assert.ok(responses.MethodNotAllowed);
});

Deno.test("GET /api/v1/docs renders every operation and schema with no script and nothing from elsewhere", async () => {
  const { app, doc } = await documentOf();
  const res = await app.request("/api/v1/docs");
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /text\/html/);
  assert.match(res.headers.get("content-security-policy") ?? "", /default-src 'self'/);
  const html = await res.text();
  for (const { op } of operations(doc)) {
    assert.ok(html.includes(`id="${op.operationId}"`), `section for ${op.operationId}`);
  }
  for (const name of Object.keys(RESPONSE_SCHEMAS)) {
    assert.ok(html.includes(`id="schema-${name}"`), `schema ${name}`);
  }
  assert.doesNotMatch(html, /<script/i);
  assert.doesNotMatch(html, /(src|href)="https?:/i);
});
