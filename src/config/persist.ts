/**
 * Writes the configuration back atomically: a temporary file in the same
 * directory, fsync, rename over the target, fsync of the directory. A crash
 * at any point leaves either the old file or the new one, never a torn one.
 */
import { stringify } from "yaml";
import type { Config } from "./schema.ts";

export async function writeConfigAtomically(path: string, config: Config): Promise<void> {
  const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) || "/" : ".";
  let mode = 0o600;
  try {
    mode = (await Deno.stat(path)).mode! & 0o777 & ~0o022;
  } catch { /* new file */ }
  const tmp = `${path}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  const text = `# mcr configuration (written by mcr ${new Date().toISOString()})\n` + stringify(config);
  const file = await Deno.open(tmp, { write: true, createNew: true, mode });
  try {
    const data = new TextEncoder().encode(text);
    for (let off = 0; off < data.length;) off += await file.write(data.subarray(off));
    await file.sync();
  } finally {
    file.close();
  }
  try {
    await Deno.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
  try {
    const d = await Deno.open(dir, { read: true });
    try {
      await d.sync();
    } finally {
      d.close();
    }
  } catch { /* some file systems refuse to sync a directory */ }
}
