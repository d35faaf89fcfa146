import assert from "node:assert/strict";
import { EXPECTED_LAYOUT } from "../../ffi/layout.ts";
import { ABI_VERSION, libraryPath, loadLibrary } from "../../ffi/library.ts";
import { SYMBOLS } from "../../ffi/symbols.ts";
import { Waiter } from "../../ffi/waiter.ts";
import { Arena, ARENA_BYTES } from "../../ffi/arena.ts";
import { interfaceInfo } from "../../ffi/iface.ts";
import { NativeError } from "../../ffi/errno.ts";
import { RxRing, TxRing } from "../../ffi/packet_ring.ts";

Deno.test("loadLibrary() resolves every symbol and checks ABI and ring layout", () => {
  const lib = loadLibrary();
  for (const name of Object.keys(SYMBOLS)) {
    assert.equal(typeof (lib as Record<string, unknown>)[name], "function", name);
  }
  assert.equal(lib.mcr_abi_version(), ABI_VERSION);
  const out = new Int32Array(EXPECTED_LAYOUT.length);
  assert.equal(lib.mcr_layout(out, out.length), EXPECTED_LAYOUT.length);
  assert.deepEqual([...out], [...EXPECTED_LAYOUT]);
  assert.match(libraryPath(), /libmcr\.so$/);
});

Deno.test("mcr_strerror() describes an errno in lower case", () => {
  const buf = new Uint8Array(128);
  const n = loadLibrary().mcr_strerror(-19, buf, buf.length);
  assert.equal(new TextDecoder().decode(buf.subarray(0, n)), "no such device");
});

Deno.test("a Waiter times out with 0 events and wakes up when notified through its handle", () => {
  const w = Waiter.open(64);
  try {
    assert.equal(w.wait(10), 0);
    Waiter.notifyHandle(w.handle);
    assert.equal(w.wait(5000), 1, "the eventfd made the wait return at once");
    assert.equal(w.wait(10), 0, "the notification was consumed");
  } finally {
    w.close();
  }
});

Deno.test("a TX kick without a descriptor is refused at once: nothing queued, sent or tallied", () => {
  const w = Waiter.open(64);
  try {
    assert.equal(w.queueKick(-2), -9, "-EBADF");
    w.submit();
    w.wait(20);
    assert.deepEqual(w.stats(), {
      kicks: 0,
      kickErrors: 0,
      lastErrno: 0,
      pollErrors: 0,
      kicksDeferred: 0,
    });
  } finally {
    w.close();
  }
});

Deno.test("a TX kick on something that is not a socket is tallied as a failed kick with its errno", () => {
  const w = Waiter.open(64);
  const file = Deno.openSync(Deno.makeTempFileSync(), { read: true });
  try {
    // fd numbers are not exposed by Deno; 0 (stdin of the test) is not a packet socket.
    w.queueKick(0);
    w.submit();
    w.wait(100);
    const s = w.stats();
    assert.equal(s.kicks + s.kickErrors, 1);
    if (s.kickErrors === 1) assert.ok(s.lastErrno > 0);
  } finally {
    file.close();
    w.close();
  }
});

Deno.test({
  name:
    "a TX kick that succeeds, queued just before a wait, goes out in that call and does not wake it",
  ignore: (Deno.uid() ?? 1) !== 0 && Deno.env.get("CI") !== "true",
  fn: () => {
    const a = Arena.open();
    const w = Waiter.open(64);
    // A TX ring on loopback with no frame marked for sending: the kick succeeds and sends nothing.
    const tx = TxRing.open(a, {
      ifindex: 1,
      ifname: "lo",
      frameSize: 2048,
      frameCount: 64,
      qdiscBypass: false,
    });
    try {
      w.queueKick(tx.fd);
      const t0 = performance.now();
      assert.equal(w.wait(300), 0, "no readiness event");
      // A wait returns early only when woken: had the kick's completion been posted, it would have returned at once.
      assert.ok(
        performance.now() - t0 >= 250,
        `the wait slept (${(performance.now() - t0).toFixed(0)} ms)`,
      );
      const s = w.stats();
      assert.equal(s.kicks, 1, "the kick went out and is counted");
      assert.equal(s.kickErrors, 0);
    } finally {
      tx.close();
      w.close();
    }
  },
});

Deno.test("Arena hands out page-aligned ranges, reuses freed ones, and explains exhaustion", () => {
  const a = Arena.open();
  assert.equal(a.bytes.length, ARENA_BYTES);
  const x = a.allocate(10_000);
  const y = a.allocate(4096);
  assert.equal(x % 4096, 0);
  assert.equal(y, x + 12288);
  a.free(x, 10_000);
  assert.equal(a.allocate(8192), x, "first fit reuses the freed range");
  assert.throws(
    () => a.allocate(ARENA_BYTES),
    /ring memory exhausted: .* lower ring sizes in config `ring`/,
  );
});

Deno.test("interfaceInfo() reports loopback and null for an absent interface", () => {
  const lo = interfaceInfo("lo");
  assert.ok(lo);
  assert.equal(lo.ipv4, 0x7f000001);
  assert.ok(lo.up);
  assert.equal(interfaceInfo("nosuchif0"), null);
});

Deno.test({
  name: "RxRing.open() on a missing interface fails with NativeError ENODEV naming it",
  ignore: (Deno.uid() ?? 1) !== 0 && Deno.env.get("CI") !== "true",
  fn: () => {
    const a = Arena.open();
    const before = a.freeBytes();
    assert.throws(
      () =>
        RxRing.open(a, {
          ifindex: 99999,
          ifname: "eth9",
          blockSize: 65536,
          blockCount: 4,
          frameSize: 2048,
          retireMs: 1,
          ignoreOutgoing: true,
        }),
      (err: unknown) =>
        err instanceof NativeError && err.code === "ENODEV" && err.op === "mcr_rx_open" &&
        /interface "eth9"/.test(err.message),
    );
    assert.equal(a.freeBytes(), before, "the ring's range went back to the arena");
    assert.throws(
      () =>
        RxRing.open(a, {
          ifindex: 1,
          ifname: "lo",
          blockSize: 65536 + 4096,
          blockCount: 4,
          frameSize: 2048,
          retireMs: 1,
          ignoreOutgoing: true,
        }),
      (err: unknown) => err instanceof NativeError && err.code === "EINVAL",
      "geometry the kernel would refuse is EINVAL before anything is allocated",
    );
  },
});

Deno.test("mcr_signal_ignore() says what it replaced: the default action, an ignore, a handler; a bad signal throws", async () => {
  // In a child process: the test runner's own signal dispositions stay as they are.
  const process = new URL("../../ffi/process.ts", import.meta.url).href;
  const script = `
    import { ignoreSignal } from "${process}";
    const seen = [ignoreSignal(23), ignoreSignal(23)]; // SIGURG: default, then ignored
    Deno.addSignalListener("SIGUSR2", () => {});      // the runtime installs a handler
    seen.push(ignoreSignal(12));
    try { ignoreSignal(65); seen.push("no error"); } catch (e) { seen.push(e.name + " " + e.errno); }
    console.log(JSON.stringify(seen));
    Deno.exit(0);`;
  const out = await new Deno.Command(Deno.execPath(), { args: ["eval", script], stderr: "piped" })
    .output();
  const text = new TextDecoder().decode(out.stdout).trim();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.deepEqual(JSON.parse(text), ["default", "ignored", "handler", "NativeError 22"]);
});
