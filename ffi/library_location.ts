/**
 * Where the native library is. With src/runtime.ts this holds everything
 * that differs between `deno run` and the compiled single executable:
 *
 *  1. MCR_LIB, when set, names the library to load;
 *  2. under `deno run`, build/libmcr.so next to the sources (make lib);
 *  3. in the compiled executable, libmcr.so is embedded (deno compile
 *     --include) in a virtual file system that dlopen cannot read, so it is
 *     extracted to a private directory named by its content hash
 *     (mode 0700, file 0500), reused when identical, replaced when stale or
 *     tampered with.
 */
import { createHash } from "node:crypto";

/** What locating needs to know, injectable so tests can exercise both layouts. */
export interface LocateInputs {
  /** $MCR_LIB */
  envPath?: string;
  /** True inside a `deno compile` executable. */
  compiled: boolean;
  /** build/libmcr.so next to the sources (a real file under `deno run`, embedded when compiled). */
  libraryPath: string;
  /** Directory under which extracted copies live. */
  cacheRoot: string;
  /** The current user id (extracted copies must be owned by it). */
  uid: number;
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Creates (or repairs) a private directory: owned by uid, mode 0700. */
function privateDir(path: string, uid: number): void {
  Deno.mkdirSync(path, { recursive: true, mode: 0o700 });
  const st = Deno.statSync(path);
  if (st.uid !== null && st.uid !== uid) {
    throw new Error(`${path} belongs to uid ${st.uid}, not to this user (${uid}); remove it or set MCR_LIB`);
  }
  if (st.mode !== null && (st.mode & 0o077) !== 0) Deno.chmodSync(path, 0o700);
}

/**
 * Writes `bytes` to <cacheRoot>/lib-<hash>/libmcr.so unless an identical copy
 * is already there; returns the path.
 */
export function extractLibrary(bytes: Uint8Array, cacheRoot: string, uid: number): string {
  const hash = sha256Hex(bytes);
  privateDir(cacheRoot, uid);
  const dir = `${cacheRoot}/lib-${hash.slice(0, 16)}`;
  privateDir(dir, uid);
  const path = `${dir}/libmcr.so`;
  if (exists(path)) {
    try {
      if (sha256Hex(Deno.readFileSync(path)) === hash) return path;
    } catch { /* unreadable: replace it */ }
  }
  // Stale, tampered with or missing: write a fresh copy atomically.
  const tmp = `${path}.tmp-${Deno.pid}`;
  Deno.writeFileSync(tmp, bytes, { mode: 0o500 });
  Deno.chmodSync(tmp, 0o500);
  Deno.renameSync(tmp, path);
  return path;
}

/** Decides which file to dlopen (pure apart from the file system). */
export function locateLibraryFrom(i: LocateInputs): string {
  if (i.envPath) {
    if (!exists(i.envPath)) throw new Error(`MCR_LIB names ${i.envPath}, which does not exist`);
    return i.envPath;
  }
  if (!i.compiled) {
    if (exists(i.libraryPath)) return i.libraryPath;
    throw new Error(`native library not found at ${i.libraryPath}: build it with \`make lib\` (or set MCR_LIB)`);
  }
  let bytes: Uint8Array;
  try {
    bytes = Deno.readFileSync(i.libraryPath);
  } catch {
    throw new Error(`this executable has no embedded native library (${i.libraryPath}); rebuild it with \`make dist\``);
  }
  return extractLibrary(bytes, i.cacheRoot, i.uid);
}

/** Where extracted copies go: /run/mcr for root, else $XDG_RUNTIME_DIR/mcr or ~/.cache/mcr. */
export function defaultCacheRoot(uid: number): string {
  if (uid === 0) return "/run/mcr";
  const runtime = Deno.env.get("XDG_RUNTIME_DIR");
  if (runtime) return `${runtime}/mcr`;
  return `${Deno.env.get("HOME") ?? "/tmp"}/.cache/mcr`;
}

/** A library file opened and verified through its descriptor; dlopen `procPath`, then close(). */
export interface PinnedLibrary {
  procPath: string;
  close(): void;
}

/**
 * Opens `path` and verifies what was opened, not what the path names now:
 * a regular file owned by `uid` (or root) that no one else may write, whose
 * content read through the descriptor hashes to `sha256`. The descriptor is
 * then loaded by its /proc/self/fd path, so another local user who swaps
 * directories between the check and the dlopen cannot get a library of
 * theirs loaded: the inode is pinned.
 */
export function pinLibrary(path: string, sha256: string, uid: number): PinnedLibrary {
  const file = Deno.openSync(path, { read: true });
  try {
    const st = file.statSync();
    if (!st.isFile) throw new Error(`${path} is not a regular file`);
    if (st.uid !== null && st.uid !== uid && st.uid !== 0) throw new Error(`${path} belongs to uid ${st.uid}, not to this user (${uid})`);
    if (st.mode !== null && (st.mode & 0o022) !== 0) throw new Error(`${path} is writable by others`);
    const size = st.size;
    const bytes = new Uint8Array(size);
    for (let off = 0; off < size;) {
      const n = file.readSync(bytes.subarray(off));
      if (n === null) break;
      off += n;
    }
    if (sha256Hex(bytes) !== sha256) throw new Error(`${path} does not hold the embedded library (changed or replaced)`);
    // Find this descriptor's number: the /proc/self/fd entry that is this inode.
    for (const e of Deno.readDirSync("/proc/self/fd")) {
      const procPath = `/proc/self/fd/${e.name}`;
      try {
        const t = Deno.statSync(procPath);
        if (t.dev === st.dev && t.ino === st.ino) return { procPath, close: () => file.close() };
      } catch { /* a descriptor closed meanwhile */ }
    }
    throw new Error(`cannot find the descriptor of ${path} in /proc/self/fd`);
  } catch (err) {
    file.close();
    throw err;
  }
}

/** The library to load in this process: a path, or (compiled) a pinned, verified descriptor. */
export function locateLibrary(): { path: string; pinned: PinnedLibrary | null } {
  const uid = Deno.uid() ?? 0;
  const libraryPath = new URL("../build/libmcr.so", import.meta.url).pathname;
  const envPath = Deno.env.get("MCR_LIB");
  const path = locateLibraryFrom({ envPath, compiled: Deno.build.standalone, libraryPath, cacheRoot: defaultCacheRoot(uid), uid });
  if (!Deno.build.standalone || envPath) return { path, pinned: null };
  return { path, pinned: pinLibrary(path, sha256Hex(Deno.readFileSync(libraryPath)), uid) };
}
