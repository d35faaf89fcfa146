import assert from "node:assert/strict";
import { ABI_VERSION } from "../../ffi/library.ts";
import { extractLibrary, locateLibraryFrom, safeFromOthers } from "../../ffi/library_location.ts";

const BUILT = new URL("../../build/libmcr.so", import.meta.url).pathname;
const uid = Deno.uid() ?? 0;

function tempDir(): string {
  return Deno.makeTempDirSync({ prefix: "mcr-libloc-" });
}

Deno.test("locateLibraryFrom() uses build/libmcr.so under deno run", () => {
  assert.equal(
    locateLibraryFrom({ compiled: false, libraryPath: BUILT, cacheRoot: "/nonexistent", uid }),
    BUILT,
  );
});

Deno.test("locateLibraryFrom() prefers MCR_LIB and rejects one that does not exist", () => {
  assert.equal(
    locateLibraryFrom({ envPath: BUILT, compiled: true, libraryPath: "/x", cacheRoot: "/x", uid }),
    BUILT,
  );
  assert.throws(
    () =>
      locateLibraryFrom({
        envPath: "/no/such.so",
        compiled: false,
        libraryPath: BUILT,
        cacheRoot: "/x",
        uid,
      }),
    /MCR_LIB names \/no\/such\.so/,
  );
});

Deno.test("locateLibraryFrom() says to run `make lib` when the development build is missing", () => {
  assert.throws(
    () =>
      locateLibraryFrom({
        compiled: false,
        libraryPath: "/no/build/libmcr.so",
        cacheRoot: "/x",
        uid,
      }),
    /make lib/,
  );
});

Deno.test("compiled: the embedded library is extracted to a private, content-named directory and loads", () => {
  const root = `${tempDir()}/cache`;
  // The embedded file system is simulated by a plain directory holding the library.
  const path = locateLibraryFrom({ compiled: true, libraryPath: BUILT, cacheRoot: root, uid });
  assert.match(path, /\/lib-[0-9a-f]{16}\/libmcr\.so$/);
  assert.equal(Deno.statSync(path).mode! & 0o777, 0o500);
  assert.equal(Deno.statSync(path.replace(/\/libmcr\.so$/, "")).mode! & 0o777, 0o700);
  const lib = Deno.dlopen(path, { mcr_abi_version: { parameters: [], result: "i32" } });
  try {
    assert.equal(lib.symbols.mcr_abi_version(), ABI_VERSION);
  } finally {
    lib.close();
  }
});

Deno.test("compiled: an identical extracted copy is reused; a tampered one is replaced", () => {
  const root = `${tempDir()}/cache`;
  const bytes = Deno.readFileSync(BUILT);
  const first = extractLibrary(bytes, root, uid);
  const inode = Deno.statSync(first).ino;
  assert.equal(extractLibrary(bytes, root, uid), first);
  assert.equal(Deno.statSync(first).ino, inode, "reused, not rewritten");
  Deno.chmodSync(first, 0o700);
  const f = Deno.openSync(first, { write: true });
  f.writeSync(new Uint8Array([0, 0, 0, 0]));
  f.close();
  assert.equal(extractLibrary(bytes, root, uid), first);
  assert.deepEqual(Deno.readFileSync(first), bytes, "tampered copy replaced");
});

Deno.test("compiled: a group- or world-accessible cache directory is made private again", () => {
  const root = `${tempDir()}/cache`;
  Deno.mkdirSync(root, { mode: 0o777 });
  Deno.chmodSync(root, 0o777);
  extractLibrary(Deno.readFileSync(BUILT), root, uid);
  assert.equal(Deno.statSync(root).mode! & 0o777, 0o700);
});

Deno.test("compiled: a cache directory owned by someone else is refused with a clear message", () => {
  const root = `${tempDir()}/cache`;
  assert.throws(
    () => extractLibrary(new Uint8Array([1, 2, 3]), root, uid + 4242),
    /belongs to uid .* not to this user/,
  );
});

Deno.test("compiled without an embedded library: says to rebuild with make dist", () => {
  assert.throws(
    () =>
      locateLibraryFrom({
        compiled: true,
        libraryPath: "/no/embedded.so",
        cacheRoot: tempDir(),
        uid,
      }),
    /make dist/,
  );
});

Deno.test("safeFromOthers() accepts directories only this user or root can change, and sticky /tmp below which we own the entry", () => {
  assert.equal(safeFromOthers("/", 0), true);
  assert.equal(safeFromOthers("/tmp", 0), false, "/tmp itself is writable by others");
  const mine = Deno.makeTempDirSync({ dir: "/tmp" });
  assert.equal(safeFromOthers(mine, Deno.uid() ?? 0), true, "an entry of ours in sticky /tmp");
  assert.equal(
    safeFromOthers(`${mine}/not/yet/there`, Deno.uid() ?? 0),
    true,
    "created by us below a safe directory",
  );
  Deno.chmodSync(mine, 0o777);
  assert.equal(
    safeFromOthers(`${mine}/x`, Deno.uid() ?? 0),
    false,
    "below a directory anyone may write to",
  );
  Deno.removeSync(mine, { recursive: true });
});

Deno.test({
  name:
    "library extraction: another user swapping directories (renameat2 exchange in a loop) never gets a foreign library loaded (3,000 attempts)",
  ignore: Deno.uid() !== 0 && Deno.env.get("CI") !== "true",
  sanitizeResources: false,
  fn: async () => {
    const { safeCacheRoot } = await import("../../ffi/library_location.ts");
    const { createHash } = await import("node:crypto");
    const base = Deno.makeTempDirSync();
    Deno.chmodSync(base, 0o755);
    const home = `${base}/home`; // the other user's: as /tmp/.cache is when HOME is unset
    Deno.mkdirSync(`${home}/.cache`, { recursive: true });
    const ours = crypto.getRandomValues(new Uint8Array(64 * 1024));
    const hash = createHash("sha256").update(ours).digest("hex");
    const evil = new TextEncoder().encode("EVIL".repeat(16 * 1024));
    Deno.mkdirSync(`${home}/.cache/evil/lib-${hash.slice(0, 16)}`, { recursive: true });
    Deno.writeFileSync(`${home}/.cache/evil/lib-${hash.slice(0, 16)}/libmcr.so`, evil, {
      mode: 0o755,
    });
    new Deno.Command("chown", { args: ["-R", "nobody", home] }).outputSync();
    const preferred = `${home}/.cache/mcr`;
    assert.equal(
      safeFromOthers(preferred, 0),
      false,
      "the other user's tree is recognised as unsafe",
    );
    const swapper = new Deno.Command("setpriv", {
      // renameat2(RENAME_EXCHANGE) of their tree and ours, in a tight loop (x86-64 syscall 316).
      args: [
        "--reuid=nobody",
        "--regid=nogroup",
        "--clear-groups",
        "perl",
        "-e",
        `chdir("${home}/.cache") or die; my ($a, $b) = ("mcr", "evil"); for (1..50_000_000) { syscall(316, -100, $a, -100, $b, 2) }`,
      ],
      stdout: "null",
      stderr: "null",
    }).spawn();
    let loaded = 0, foreign = 0, naiveForeign = 0;
    try {
      for (let i = 0; i < 3000; i++) {
        // What mcr does: a safe root (a private /tmp directory here), extract, load by path.
        const root = safeCacheRoot(0, preferred);
        const path = extractLibrary(ours, root, 0);
        const bytes = Deno.readFileSync(path); // what dlopen(path) maps
        loaded++;
        if (createHash("sha256").update(bytes).digest("hex") !== hash) foreign++;
        Deno.removeSync(root, { recursive: true });
        // What the old code did: extract into the preferred root and load by path.
        try {
          const p = extractLibrary(ours, preferred, 0);
          if (createHash("sha256").update(Deno.readFileSync(p)).digest("hex") !== hash) {
            naiveForeign++;
          }
        } catch { /* refused this time */ }
      }
    } finally {
      try {
        swapper.kill("SIGKILL");
      } catch { /* done */ }
      await swapper.status;
      new Deno.Command("rm", { args: ["-rf", base] }).outputSync();
    }
    console.log(
      `extraction race: ${loaded} loaded, ${foreign} foreign; extracting into the other user's tree would have loaded ${naiveForeign} foreign`,
    );
    assert.equal(foreign, 0, "never a foreign library");
    assert.equal(loaded, 3000);
  },
});
