/**
 * The `rules:` block of a configuration file as one piece of text per rule,
 * so that writing a change back edits only the rules it changed: a rule
 * added is appended, one removed is cut out with the comment lines before
 * it, one replaced is written anew in the file's own style (one line, or a
 * block) keeping the comment lines before it, or edited in place where it
 * can be (rule_edit.ts: comments inside it kept too); every other byte of the file
 * stays as the operator wrote it. The cost of a write is the text of the
 * rules changed plus one join, not a parse or a rendering of the file.
 *
 * Used when the file's rules are a block sequence (`rules:` then `- ...`
 * items); a file in another shape, a change to anything but the rules, or
 * no rules left is written by editing the whole document (config_file.ts).
 */
import { type Document, isMap, isSeq, stringify } from "yaml";
import type { Config, Rule } from "./schema.ts";
import { canonical, editRuleText } from "./rule_edit.ts";

export { canonical } from "./rule_edit.ts";

/** One rule's text: the comment and blank lines before it, then its item (from "-" to its last line). */
interface Chunk {
  name: string;
  /** The rule object this text was written from (or read as): the same object is the same text. */
  rule: Rule;
  lead: string;
  body: string;
}

/** Everything in the file but the rules, canonical: a change there is not a rules-only edit. */
function othersOf(config: Config): string {
  const { rules: _rules, ...rest } = config;
  return canonical(rest);
}

function lineStart(text: string, at: number): number {
  return text.lastIndexOf("\n", at - 1) + 1;
}

function lineEnd(text: string, at: number): number {
  if (at > 0 && text[at - 1] === "\n") return at;
  const nl = text.indexOf("\n", at);
  return nl < 0 ? text.length : nl + 1;
}

export class RuleText {
  private constructor(
    private readonly head: string,
    private readonly chunks: readonly Chunk[],
    private readonly tail: string,
    /** What goes before "- " of an item. */
    private readonly indent: string,
    /** Items are written on one line each (the file's first item is). */
    private readonly oneLine: boolean,
    private readonly others: string,
  ) {}

  /**
   * The rules block of `text` (parsed as `doc`, validated as `config`), or
   * null when its rules are not a block sequence of mappings whose pieces
   * put together give the text back exactly.
   */
  static of(text: string, doc: Document, config: Config): RuleText | null {
    if (!isMap(doc.contents)) return null;
    const seq = doc.get("rules", true);
    if (!isSeq(seq) || seq.flow || seq.items.length === 0) return null;
    if (seq.items.length !== config.rules.length) return null;
    const chunks: Chunk[] = [];
    let head = "";
    let indent = "";
    let at = 0;
    for (let i = 0; i < seq.items.length; i++) {
      const item = seq.items[i] as { range?: [number, number, number] };
      if (!isMap(item) || !item.range) return null;
      // The "-" before the item (possibly on an earlier line of its own).
      let dash = item.range[0] - 1;
      while (dash >= 0 && " \t\r\n".includes(text[dash])) dash--;
      if (dash < 0 || text[dash] !== "-") return null;
      const start = lineStart(text, dash);
      const end = lineEnd(text, item.range[1]);
      if (start < at || end <= start) return null;
      if (i === 0) {
        head = text.slice(0, start);
        indent = text.slice(start, dash);
        if (indent.trim() !== "") return null;
        at = start;
      }
      chunks.push({
        name: config.rules[i].name,
        rule: config.rules[i],
        lead: text.slice(at, start),
        body: text.slice(start, end),
      });
      at = end;
    }
    const tail = text.slice(at);
    const rules = new RuleText(
      head,
      chunks,
      tail,
      indent,
      !chunks[0].body.trimEnd().includes("\n"),
      othersOf(config),
    );
    return rules.#text(chunks) === text ? rules : null;
  }

  /**
   * The file's text for `config` and the pieces it is made of, or null when
   * more than the rules changed (or none is left): then the caller edits
   * the document whole.
   */
  edit(config: Config): { text: string; next: RuleText } | null {
    if (config.rules.length === 0 || othersOf(config) !== this.others) return null;
    const byName = new Map<string, Chunk>();
    for (const c of this.chunks) byName.set(c.name, c);
    const chunks = config.rules.map((rule): Chunk => {
      const c = byName.get(rule.name);
      if (c !== undefined && (c.rule === rule || canonical(c.rule) === canonical(rule))) {
        return c.rule === rule ? c : { ...c, rule };
      }
      // A rule changed is edited in place where it can be (comments inside it kept), else written anew.
      const body = (c && editRuleText(c.body, c.rule, rule)) ?? this.#render(rule);
      return { name: rule.name, rule, lead: c?.lead ?? "", body };
    });
    const next = new RuleText(
      this.head,
      chunks,
      this.tail,
      this.indent,
      this.oneLine,
      this.others,
    );
    return { text: next.#text(chunks), next };
  }

  #text(chunks: readonly Chunk[]): string {
    let rules = "";
    for (let i = 0; i < chunks.length; i++) {
      const c = chunks[i];
      // A last line without its newline (the file's end) gets one when a rule follows it.
      const glue = i < chunks.length - 1 && !c.body.endsWith("\n") ? "\n" : "";
      rules += c.lead + c.body + glue;
    }
    return this.head + rules + this.tail;
  }

  /** A rule in the file's style: one flow mapping on one line, or a block item. */
  #render(rule: Rule): string {
    if (this.oneLine) return `${this.indent}- ${JSON.stringify(rule)}\n`;
    return stringify([rule]).split("\n").filter((l) => l !== "").map((l) => this.indent + l)
      .join("\n") + "\n";
  }
}
