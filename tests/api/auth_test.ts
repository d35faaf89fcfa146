import assert from "node:assert/strict";
import { constantTimeEqual, isLoopbackHost, resolveToken, splitListen } from "../../src/api/auth.ts";

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
  assert.throws(() => resolveToken({ token_env: "MCR_TEST_TOKEN_NOT_SET_42" }), /MCR_TEST_TOKEN_NOT_SET_42, which is not set/);
});

Deno.test("isLoopbackHost() accepts only loopback addresses; splitListen() handles IPv6 brackets", () => {
  for (const h of ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"]) assert.ok(isLoopbackHost(h), h);
  for (const h of ["0.0.0.0", "10.0.1.1", "::", "128.0.0.1"]) assert.ok(!isLoopbackHost(h), h);
  assert.deepEqual(splitListen("[::1]:8787"), { host: "::1", port: 8787 });
  assert.deepEqual(splitListen("10.0.0.1:80"), { host: "10.0.0.1", port: 80 });
});

Deno.test("constantTimeEqual() compares tokens exactly", () => {
  assert.ok(constantTimeEqual("abc", "abc"));
  assert.ok(!constantTimeEqual("abc", "abd"));
  assert.ok(!constantTimeEqual("abc", "abcd"));
});
