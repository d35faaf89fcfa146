/**
 * A worker's arena: one reserved range of address space in which every ring
 * of the worker is mapped, so one ArrayBuffer (and one Uint8Array and
 * DataView over it) covers them all and TypeScript copies RX -> TX frames
 * with copyWithin. The range and its views live as long as the thread: a
 * view over unmapped memory would crash the process, so closed rings are
 * re-covered with zero pages (c/ring.c) instead of unmapped.
 */
import { check } from "./errno.ts";
import { loadLibrary } from "./library.ts";

/** 1 GiB: keeps every offset below 2^30, a small integer for V8. */
export const ARENA_BYTES = 1 << 30;
const PAGE = 4096;

export class Arena {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  readonly #base: bigint;
  /** Free ranges [offset, length], sorted by offset. */
  #free: [number, number][] = [[0, ARENA_BYTES]];

  constructor() {
    const lib = loadLibrary();
    const out = new BigUint64Array(1);
    check(lib.mcr_arena_reserve(BigInt(ARENA_BYTES), out), "mcr_arena_reserve", "Cannot reserve ring memory");
    this.#base = out[0];
    const pointer = Deno.UnsafePointer.create(this.#base);
    if (pointer === null) throw new Error("mcr_arena_reserve returned a null address");
    const buffer = Deno.UnsafePointerView.getArrayBuffer(pointer, ARENA_BYTES);
    this.bytes = new Uint8Array(buffer);
    this.view = new DataView(buffer);
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
    const free = this.#free.reduce((a, [, s]) => a + s, 0);
    throw new Error(
      `ring memory exhausted: ${(len / 2 ** 20).toFixed(1)} MiB requested, ${(free / 2 ** 20).toFixed(1)} MiB ` +
        `free of ${ARENA_BYTES / 2 ** 20}; lower ring sizes in config \`ring\` (block_count, tx_frames)`,
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
    const rc = loadLibrary().mcr_arena_map(this.addressOf(offset), BigInt(Math.ceil(length / PAGE) * PAGE));
    if (rc < 0) {
      this.free(offset, length);
      check(rc, "mcr_arena_map", "Cannot map batch memory");
    }
    return offset;
  }

  /** Returns plain memory from allocatePlain (re-covered with zero pages, then freed). */
  freePlain(offset: number, length: number): void {
    loadLibrary().mcr_ring_close(-1, this.addressOf(offset), BigInt(Math.ceil(length / PAGE) * PAGE));
    this.free(offset, length);
  }

  /** A pointer to an offset, for native calls that read arena memory. */
  pointerTo(offset: number): Deno.PointerValue {
    return Deno.UnsafePointer.create(this.addressOf(offset));
  }

  /** Address of an offset, for the native calls that map rings (ffi/ only). */
  addressOf(offset: number): bigint {
    return this.#base + BigInt(offset);
  }

  /** Bytes not allocated. */
  freeBytes(): number {
    return this.#free.reduce((a, [, s]) => a + s, 0);
  }
}
