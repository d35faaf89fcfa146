/**
 * ControlSocket (ffi/control.ts): its reader waits in a thread of its own
 * inside a native poll; close() wakes it at once and closes the descriptors
 * only after that thread has left native code (the op sanitizer fails on a
 * call still pending; the open-file count shows both fds released). Opening
 * on an interface that does not exist fails with its errno and leaks
 * nothing. Needs CAP_NET_RAW: skipped without it (and run in CI, as root).
 */
import assert from "node:assert/strict";
import { ControlSocket } from "../../ffi/control.ts";
import { NativeError } from "../../ffi/errno.ts";
import { openFileCount } from "../../ffi/process.ts";
import { rootTestsEnabled } from "../helpers/netns.ts";

const capable = rootTestsEnabled().ok;

Deno.test({
  name:
    "ControlSocket.close() while its thread is blocked in the native wait: returns at once and releases both fds",
  ignore: !capable,
  fn: async () => {
    const before = openFileCount();
    const s = ControlSocket.open(1, 4, 2, "lo"); // IGMP on loopback: opened, never sent on
    assert.equal(openFileCount(), before + 2, "the socket and its wake eventfd");
    let packets = 0;
    s.follow(() => packets++);
    await new Promise((r) => setTimeout(r, 100)); // the thread is inside mcr_fd_wait
    const t0 = performance.now();
    await s.close();
    const ms = performance.now() - t0;
    assert.ok(ms < 2000, `closed in ${ms.toFixed(0)} ms, not at the 60 s wait's end`);
    assert.equal(openFileCount(), before, "both fds closed, after the thread returned");
    await s.close(); // twice is harmless
    assert.equal(packets, 0);
  },
});

Deno.test({
  name:
    "ControlSocket.open() on an interface that does not exist fails with its errno and leaks no fd",
  ignore: !capable,
  fn: () => {
    const before = openFileCount();
    assert.throws(
      () => ControlSocket.open(999_999, 4, 103, "nowhere0"),
      (e: unknown) => e instanceof NativeError && e.code === "ENODEV",
    );
    assert.throws(
      () => ControlSocket.open(1, 5 as 4, 2, "lo"),
      (e: unknown) => e instanceof NativeError && e.code === "EINVAL",
    );
    assert.equal(openFileCount(), before);
  },
});
