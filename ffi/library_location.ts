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
    throw new Error(
      `${path} belongs to uid ${st.uid}, not to this user (${uid}); remove it or set MCR_LIB`,
    );
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
    throw new Error(
      `native library not found at ${i.libraryPath}: build it with \`make lib\` (or set MCR_LIB)`,
    );
  }
  let bytes: Uint8Array;
  try {
    bytes = Deno.readFileSync(i.libraryPath);
  } catch {
    throw new Error(
      `this executable has no embedded native library (${i.libraryPath}); rebuild it with \`make dist\``,
    );
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

/**
 * Whether no other user can change what `path` names: every directory from
 * / down to it is owned by root or `uid` and not a symlink, and one that
 * others may write to is sticky (/tmp) with the next component owned by
 * `uid`. Then a file checked in it is the file later loaded (no one can swap
 * a directory between the check and the dlopen).
 */
export function safeFromOthers(path: string, uid: number): boolean {
  const parts = path.split("/").filter((p) => p !== "");
  let at = "";
  let parentOpen = false; // the previous directory was writable by others (sticky)
  for (let i = 0; i <= parts.length; i++) {
    const p = i === 0 ? "/" : (at += `/${parts[i - 1]}`);
    let st: Deno.FileInfo;
    try {
      st = Deno.lstatSync(p);
    } catch {
      return !parentOpen; // not there yet: created by us below a safe directory
    }
    if (st.isSymlink || !st.isDirectory) return false;
    if (st.uid !== null && st.uid !== 0 && st.uid !== uid) return false;
    if (parentOpen && st.uid !== uid) return false;
    const mode = st.mode ?? 0;
    parentOpen = (mode & 0o022) !== 0;
    if (parentOpen && (mode & 0o1000) === 0) return false; // writable by others, not sticky
  }
  return !parentOpen;
}

/**
 * Where extracted copies go, safe from other users: the default root when
 * safeFromOthers() holds for it, else a fresh private directory in /tmp
 * (sticky: nobody else can rename or delete what we create there).
 */
export function safeCacheRoot(uid: number, preferred = defaultCacheRoot(uid)): string {
  if (safeFromOthers(preferred, uid)) return preferred;
  return Deno.makeTempDirSync({ dir: "/tmp", prefix: "mcr-lib-" });
}

/** The path of libmcr.so to load in this process. */
export function locateLibrary(): string {
  const uid = Deno.uid() ?? 0;
  const path = locateLibraryFrom({
    envPath: Deno.env.get("MCR_LIB"),
    compiled: Deno.build.standalone,
    libraryPath: new URL("../build/libmcr.so", import.meta.url).pathname,
    cacheRoot: Deno.build.standalone ? safeCacheRoot(uid) : defaultCacheRoot(uid),
    uid,
  });
  // Worker threads (and tools this process starts) load the copy just checked.
  if (Deno.build.standalone && !Deno.env.get("MCR_LIB")) Deno.env.set("MCR_LIB", path);
  return path;
}
