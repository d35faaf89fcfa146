/**
 * A worker's arena: one reserved range of address space in which every
 * ring and batch area of the worker is mapped, so one ArrayBuffer (and one
 * Uint8Array and DataView over it) covers them all and TypeScript copies
 * RX -> TX frames with copyWithin. Native code names the arena by a small
 * handle; this module is the only place that ever sees its address.
 *
 * The range and its views live as long as the process: a view over unmapped
 * memory would crash it, so released rings are re-covered with zero pages
 * (c/arena.c) instead of unmapped, and a stuck worker's arena is fenced
 * (fenceArena) rather than freed.
 */
import { check } from "./errno.ts";
import { loadLibrary } from "./library.ts";

/** 1 GiB: keeps every offset below 2^30, a small integer for V8. */
export const ARENA_BYTES = 1 << 30;
const PAGE = 4096;

export class Arena {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  /** Free ranges [offset, length], sorted by offset. */
  #free: [number, number][] = [[0, ARENA_BYTES]];

  private constructor(readonly handle: number) {
    const lib = loadLibrary();
    const out = new BigUint64Array(1);
    check(lib.mcr_arena_base(handle, out), "mcr_arena_base", "Cannot locate ring memory");
    const pointer = Deno.UnsafePointer.create(out[0]);
    if (pointer === null) throw new Error("mcr_arena_base returned a null address");
    const buffer = Deno.UnsafePointerView.getArrayBuffer(pointer, ARENA_BYTES);
    this.bytes = new Uint8Array(buffer);
    this.view = new DataView(buffer);
  }

  /** Opens an arena for the calling thread (an empty one a stopped worker returned is reused). */
  static open(): Arena {
    const h = check(
      loadLibrary().mcr_arena_open(BigInt(ARENA_BYTES)),
      "mcr_arena_open",
      "Cannot reserve ring memory",
    );
    return new Arena(h);
  }

  /** Reserves `length` bytes (rounded up to pages), first fit; returns the offset. */
  allocate(length: number): number {
    const len = Math.ceil(length / PAGE) * PAGE;
    for (let i = 0; i < this.#free.length; i++) {
      const [off, size] = this.#free[i];
      if (size < len) continue;
      if (size === len) this.#free.splice(i, 1);
      else this.#free[i] = [off + len, size - len];
      return off;
    }
    const free = this.freeBytes();
    throw new Error(
      `ring memory exhausted: ${(len / 2 ** 20).toFixed(1)} MiB requested, ${
        (free / 2 ** 20).toFixed(1)
      } MiB ` +
        `free of ${
          ARENA_BYTES / 2 ** 20
        }; lower ring sizes in config \`ring\` (block_count, tx_frames)`,
    );
  }

  /** Returns a range to the free list (coalescing neighbours). */
  free(offset: number, length: number): void {
    const len = Math.ceil(length / PAGE) * PAGE;
    this.#free.push([offset, len]);
    this.#free.sort((a, b) => a[0] - b[0]);
    const merged: [number, number][] = [];
    for (const r of this.#free) {
      const last = merged[merged.length - 1];
      if (last && last[0] + last[1] === r[0]) last[1] += r[1];
      else merged.push([r[0], r[1]]);
    }
    this.#free = merged;
  }

  /** Allocates `length` bytes of plain read/write memory (zeroed); returns the offset. */
  allocatePlain(length: number): number {
    const offset = this.allocate(length);
    const rc = loadLibrary().mcr_arena_map(this.handle, offset, Math.ceil(length / PAGE) * PAGE);
    if (rc < 0) {
      this.free(offset, length);
      check(rc, "mcr_arena_map", "Cannot map batch memory");
    }
    return offset;
  }

  /** Returns plain memory from allocatePlain (re-covered with zero pages, then freed). */
  freePlain(offset: number, length: number): void {
    loadLibrary().mcr_arena_release(this.handle, -1, offset);
    this.free(offset, length);
  }

  /** Registers a socket opened elsewhere (a routed output), so a fence reaches it. */
  adopt(fd: number): void {
    check(
      loadLibrary().mcr_arena_adopt(this.handle, fd),
      "mcr_arena_adopt",
      "Cannot register a socket",
    );
  }

  /** Closes a socket registered in this arena (and re-covers its ring, if any). */
  release(fd: number): void {
    loadLibrary().mcr_arena_release(this.handle, fd, 0);
  }

  /** The owner stopped and released everything: the arena may serve the next worker. */
  giveBack(): void {
    loadLibrary().mcr_arena_return(this.handle);
  }

  /** Bytes not allocated. */
  freeBytes(): number {
    return this.#free.reduce((a, [, s]) => a + s, 0);
  }
}

/**
 * Fences the arena of a worker that may be stuck (from any thread; see
 * mcr_arena_fence): its sockets are released by the kernel, its mappings
 * covered with zero pages, and it refuses every later call. Returns false
 * when the owner is inside an arena call right now: try again shortly.
 */
export function fenceArena(handle: number): boolean {
  const rc = loadLibrary().mcr_arena_fence(handle);
  if (rc === -16) return false; // EBUSY
  check(rc, "mcr_arena_fence", "Cannot fence a worker's ring memory");
  return true;
}
