/**
 * The configuration file as mcr owns it: read once at start (and on
 * SIGHUP), written back after runtime changes.
 *
 * Writing keeps what the operator wrote: the file is edited as a YAML
 * document (comments, key order and the layout of unchanged rules survive);
 * a file that was changed on disk since mcr read or wrote it is never
 * overwritten (ConfigConflictError: reload it with SIGHUP first); a symlink
 * is followed and its target replaced, not the link; the new text goes to a
 * temporary file next to the target, is synced, and renamed over it, and the
 * temporary file is removed on any failure (disk full, read-only directory).
 *
 * Files of more than COMPACT_ABOVE rules are written in a compact form (one
 * line per rule; the comments at the top of the file are kept): editing a
 * YAML document of 10,000 rules takes seconds, the compact form milliseconds.
 */
import { type Document, isMap, isSeq, parseDocument, stringify } from "yaml";
import type { Config } from "./schema.ts";
import { loadConfigText } from "./load.ts";
import { canonical, RuleText } from "./rule_text.ts";

/** Above this many rules the file is written in the compact form. */
export const COMPACT_ABOVE = 2000;

/** The file changed on disk since mcr last read or wrote it; nothing was written. */
export class ConfigConflictError extends Error {
  override name = "ConfigConflictError";
}

/** `config` as the edit of the document `old`: unchanged keys and rules keep their text and comments. */
function editDocument(old: string, config: Config): string {
  const doc = parseDocument(old);
  const before = (doc.toJS({ maxAliasCount: 100 }) ?? {}) as Record<string, unknown>;
  const next = config as unknown as Record<string, unknown>;
  if (!isMap(doc.contents)) return stringify(config);
  for (const key of Object.keys(before)) if (!(key in next)) doc.delete(key);
  for (const [key, value] of Object.entries(next)) {
    if (canonical(before[key]) === canonical(value)) continue;
    const seq = doc.get(key, true);
    if (key === "rules" && isSeq(seq) && Array.isArray(before.rules)) {
      // Keep the node (text, comments) of every rule that did not change.
      const kept = new Map<string, unknown>();
      (before.rules as { name?: string }[]).forEach((r, i) => {
        if (r && typeof r.name === "string") kept.set(`${r.name}\n${canonical(r)}`, seq.items[i]);
      });
      seq.items = (value as { name: string }[]).map((r) =>
        (kept.get(`${r.name}\n${canonical(r)}`) ?? doc.createNode(r)) as (typeof seq.items)[number]
      );
    } else {
      doc.set(key, doc.createNode(value));
    }
  }
  return doc.toString();
}

/** A rule's line in the compact form, by rule object (a validated rule is never mutated). */
const compactLines = new WeakMap<object, string>();

function compactLine(rule: Config["rules"][number]): string {
  let line = compactLines.get(rule);
  if (line === undefined) compactLines.set(rule, line = `  - ${JSON.stringify(rule)}`);
  return line;
}

/** The compact form: the file's leading comments, other keys as YAML, one flow mapping per rule. */
function compact(old: string | null, config: Config): string {
  const lines = old === null ? [] : old.split("\n");
  let k = 0;
  while (k < lines.length && lines[k].startsWith("#")) k++;
  const head = lines.slice(0, k).filter((l) =>
    !l.includes("one per line (mcr writes files of more than")
  );
  const { rules, ...rest } = config;
  const other = Object.keys(rest).length > 0 ? stringify(rest) : "";
  return [
    ...head,
    `# ${rules.length} rules, one per line (mcr writes files of more than ${COMPACT_ABOVE} rules in this form)`,
    other.trimEnd(),
    "rules:",
    ...rules.map(compactLine),
    "",
  ].filter((l, i) => l !== "" || i > 0).join("\n");
}

/** The text to write for `config`, given the text the file held. */
export function renderConfig(old: string | null, config: Config): string {
  if (config.rules.length > COMPACT_ABOVE) return compact(old, config);
  if (old === null || old.trim() === "") return stringify(config);
  return editDocument(old, config);
}

/** Writes text to path atomically (temporary file beside it, fsync, rename, fsync of the directory). */
export async function writeAtomically(path: string, text: string, mode: number): Promise<void> {
  const slash = path.lastIndexOf("/");
  const dir = slash > 0 ? path.slice(0, slash) : slash === 0 ? "/" : ".";
  const base = path.slice(slash + 1);
  const tmp = `${dir}/.${base}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  try {
    const file = await Deno.open(tmp, { write: true, createNew: true, mode });
    try {
      const data = new TextEncoder().encode(text);
      for (let off = 0; off < data.length;) off += await file.write(data.subarray(off));
      await file.sync();
    } finally {
      file.close();
    }
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

export class ConfigFile {
  /** The text last read or written: what the file must still hold before mcr writes it. */
  #text: string | null = null;
  /** The configuration that text holds. */
  #written: Config | null = null;
  /** Its rules as one piece of text each (rule_text.ts); null: made from #text when next needed. */
  #rules: RuleText | null = null;

  constructor(readonly path: string) {}

  /** Reads and validates the file; its text becomes the baseline for later writes. */
  async load(): Promise<Config> {
    const { config, text, document } = await loadConfigText(this.path);
    this.#text = text;
    this.#written = config;
    this.#rules = RuleText.of(text, document, config);
    return config;
  }

  /**
   * Writes `config` back. Refuses (ConfigConflictError, nothing written) if
   * the file changed on disk since it was read or written by mcr.
   */
  async write(config: Config): Promise<void> {
    const { target, current, mode } = await this.#onDisk();
    this.#refuseChanged(current);
    // A change of rules alone edits only their text; anything else edits the document whole.
    const edited = current !== null && current === this.#text
      ? this.#rulesOf(current)?.edit(config)
      : null;
    const text = edited?.text ?? renderConfig(current ?? this.#text, config);
    await writeAtomically(target, text, mode);
    this.#text = text;
    this.#written = config;
    this.#rules = edited?.next ?? null;
  }

  /** Refuses (ConfigConflictError) when the file changed on disk since mcr read or wrote it. */
  async checkUnchanged(): Promise<void> {
    this.#refuseChanged((await this.#onDisk()).current);
  }

  #refuseChanged(current: string | null): void {
    if (this.#text !== null && current !== null && current !== this.#text) {
      throw new ConfigConflictError(
        `${this.path} was changed on disk since mcr read it; nothing was written (reload it with SIGHUP first)`,
      );
    }
  }

  /** The file's real path (a symlink followed), what it holds now (null: absent) and its mode. */
  async #onDisk(): Promise<{ target: string; current: string | null; mode: number }> {
    let target = this.path;
    try {
      target = await Deno.realPath(this.path);
    } catch { /* not there (yet): write the path itself */ }
    let current: string | null = null;
    let mode = 0o600;
    try {
      current = await Deno.readTextFile(target);
      mode = (await Deno.stat(target)).mode! & 0o777 & ~0o022;
    } catch { /* new file */ }
    return { target, current, mode };
  }

  /** The rules' pieces of `text` (which holds #written), parsed once after a whole-document write. */
  #rulesOf(text: string): RuleText | null {
    if (this.#rules === null && this.#written !== null) {
      this.#rules = RuleText.of(text, parseDocument(text) as Document, this.#written);
    }
    return this.#rules;
  }
}
