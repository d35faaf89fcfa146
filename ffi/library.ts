/**
 * Opens libmcr once per thread (each Worker has its own handle), checks that
 * it is the ABI and struct layout this code was written for, and hands out
 * its symbols.
 */
import { EXPECTED_LAYOUT } from "./layout.ts";
import { locateLibrary } from "./library_location.ts";
import { type McrSymbols, SYMBOLS } from "./symbols.ts";

/** The ABI version this TypeScript expects (MCR_ABI_VERSION in c/mcr.h). */
export const ABI_VERSION = 20;

let library: Deno.DynamicLibrary<typeof SYMBOLS> | null = null;
let loadedFrom = "";

/** Loads (once per thread) and verifies the native library; returns its symbols. */
export function loadLibrary(): McrSymbols {
  if (library) return library.symbols;
  const path = locateLibrary();
  const lib = Deno.dlopen(path, SYMBOLS);
  const abi = lib.symbols.mcr_abi_version();
  if (abi !== ABI_VERSION) {
    lib.close();
    throw new Error(
      `native library ${path} has ABI version ${abi}, expected ${ABI_VERSION}: rebuild it (make lib)`,
    );
  }
  const layout = new Int32Array(EXPECTED_LAYOUT.length);
  const n = lib.symbols.mcr_layout(layout, layout.length);
  for (let i = 0; i < EXPECTED_LAYOUT.length; i++) {
    if (i >= n || layout[i] !== EXPECTED_LAYOUT[i]) {
      lib.close();
      throw new Error(
        `native library ${path}: ring layout slot ${i} is ${layout[i]}, ffi/layout.ts expects ${
          EXPECTED_LAYOUT[i]
        }`,
      );
    }
  }
  library = lib;
  loadedFrom = path;
  return lib.symbols;
}

/** Path the library was loaded from ("" before loadLibrary()). */
export function libraryPath(): string {
  return loadedFrom;
}

/** Closes this thread's handle (tests; a Worker's handle closes with it). */
export function closeLibrary(): void {
  library?.close();
  library = null;
  loadedFrom = "";
}
