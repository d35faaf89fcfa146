import assert from "node:assert/strict";
import {
  constantTimeEqual,
  isLoopbackHost,
  resolveToken,
  splitListen,
} from "../../src/api/auth.ts";

Deno.test("resolveToken() reads a private token file and refuses one readable by others", () => {
  const path = Deno.makeTempFileSync();
  Deno.writeTextFileSync(path, "a-token-of-enough-length\n");
  Deno.chmodSync(path, 0o600);
  assert.equal(resolveToken({ token_file: path }), "a-token-of-enough-length");
  Deno.chmodSync(path, 0o644);
  assert.throws(() => resolveToken({ token_file: path }), /readable by others \(chmod 600/);
});

Deno.test("resolveToken() refuses short tokens and a named variable that is not set", () => {
  const path = Deno.makeTempFileSync();
  Deno.writeTextFileSync(path, "short");
  Deno.chmodSync(path, 0o600);
  assert.throws(() => resolveToken({ token_file: path }), /shorter than 16 characters/);
  assert.throws(
    () => resolveToken({ token_env: "MCR_TEST_TOKEN_NOT_SET_42" }),
    /MCR_TEST_TOKEN_NOT_SET_42, which is not set/,
  );
});

Deno.test("isLoopbackHost() accepts only loopback addresses; splitListen() handles IPv6 brackets", () => {
  for (const h of ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"]) {
    assert.ok(isLoopbackHost(h), h);
  }
  for (const h of ["0.0.0.0", "10.0.1.1", "::", "128.0.0.1"]) assert.ok(!isLoopbackHost(h), h);
  assert.deepEqual(splitListen("[::1]:8787"), { host: "::1", port: 8787 });
  assert.deepEqual(splitListen("10.0.0.1:80"), { host: "10.0.0.1", port: 80 });
});

Deno.test("constantTimeEqual() compares tokens exactly", () => {
  assert.ok(constantTimeEqual("abc", "abc"));
  assert.ok(!constantTimeEqual("abc", "abd"));
  assert.ok(!constantTimeEqual("abc", "abcd"));
});

Deno.test("a loopback API refuses a foreign Host (DNS rebinding) with 421 and changes nothing", async () => {
  const { createApp } = await import("../../src/api/app.ts");
  const { BASE_CONFIG, FakeRelay, fakeDeps } = await import("../helpers/fake_relay.ts");
  const relay = new FakeRelay(structuredClone(BASE_CONFIG));
  const app = createApp(
    fakeDeps(relay, { hosts: { loopback: true, allowed: ["relay.example.net"] } }),
  );
  const body = JSON.stringify({ level: "debug" });
  const put = (host: string, extra: Record<string, string> = {}) =>
    app.request("http://x/api/v1/log-level", {
      method: "PUT",
      headers: { host, "content-type": "application/json", ...extra },
      body,
    });
  assert.equal((await put("evil.example")).status, 421);
  assert.equal((await put("evil.example:8787")).status, 421);
  assert.equal(
    (await app.request("http://x/api/v1/config", { headers: { host: "evil.example" } })).status,
    421,
    "reads too",
  );
  for (const ok of ["127.0.0.1:8787", "localhost", "[::1]:8787", "relay.example.net:8787"]) {
    assert.equal((await put(ok)).status, 200, ok);
  }
  // Over the unix socket the Host is not checked (no browser reaches it).
  const unix = await app.request("http://x/api/v1/config", { headers: { host: "anything" } }, {
    transport: "unix",
  });
  assert.equal(unix.status, 200);
});

Deno.test("a mutation with a foreign Origin is refused with 403; same-origin and allowed origins pass", async () => {
  const { createApp } = await import("../../src/api/app.ts");
  const { BASE_CONFIG, FakeRelay, fakeDeps } = await import("../helpers/fake_relay.ts");
  const relay = new FakeRelay(structuredClone(BASE_CONFIG));
  const app = createApp(fakeDeps(relay, { hosts: { loopback: true, allowed: [] } }));
  const del = (origin: string) =>
    app.request("http://x/api/v1/rules/cam1", {
      method: "DELETE",
      headers: { host: "127.0.0.1:8787", origin },
    });
  assert.equal((await del("http://evil.example")).status, 403);
  assert.equal((await del("null")).status, 403);
  assert.equal(
    (await del("http://127.0.0.1:9999")).status,
    200,
    "another loopback port is an allowed host",
  );
  assert.deepEqual(relay.current.rules, []);
});

Deno.test("checkToken() drops one trailing newline and refuses spaces, control characters and short tokens", async () => {
  const { checkToken } = await import("../../src/api/auth.ts");
  assert.equal(checkToken("0123456789abcdef\n", "f"), "0123456789abcdef");
  assert.equal(checkToken("0123456789abcdef\r\n", "f"), "0123456789abcdef");
  assert.throws(() => checkToken("0123456789 abcdef", "f"), /white space/);
  assert.throws(() => checkToken("0123456789abcdef\n\n", "f"), /white space/);
  assert.throws(() => checkToken(" 0123456789abcdef", "f"), /white space/);
  assert.throws(() => checkToken("0123456789abcde\x01", "f"), /control/);
  assert.throws(() => checkToken("short\n", "f"), /shorter than 16/);
});
