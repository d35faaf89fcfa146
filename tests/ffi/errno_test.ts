import assert from "node:assert/strict";
import { check, errnoName, NativeError } from "../../ffi/errno.ts";

Deno.test("check() returns non-negative results unchanged", () => {
  assert.equal(check(7, "mcr_x", "Cannot x"), 7);
  assert.equal(check(0, "mcr_x", "Cannot x"), 0);
});

Deno.test("check() turns -errno into a NativeError with the op, errno name and context", () => {
  try {
    check(-19, "mcr_rx_open", 'Cannot open packet RX ring on interface "eth9"', { ifname: "eth9" });
    assert.fail("no error thrown");
  } catch (err) {
    assert.ok(err instanceof NativeError);
    assert.equal(err.op, "mcr_rx_open");
    assert.equal(err.errno, 19);
    assert.equal(err.code, "ENODEV");
    assert.deepEqual(err.context, { ifname: "eth9" });
    assert.equal(
      err.message,
      'Cannot open packet RX ring on interface "eth9": no such device (ENODEV)',
    );
  }
});

Deno.test("errnoName() names common errors and falls back to E<n>", () => {
  assert.equal(errnoName(105), "ENOBUFS");
  assert.equal(errnoName(1), "EPERM");
  assert.equal(errnoName(4242), "E4242");
});
