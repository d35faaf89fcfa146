/**
 * One rule's text edited in place: the values that changed are replaced
 * where they stand and keys added are put after the last one of their
 * mapping, so comments inside the rule, key order, flow or block style and
 * the spacing of every untouched line stay as the operator wrote them. An
 * edit that cannot be made that way (a key or list item removed, a list
 * grown, a value whose kind changed) is not made: the caller writes the
 * rule anew. Every edit is checked by reading the result back.
 */
import { isMap, isScalar, isSeq, type Node, parseDocument, stringify } from "yaml";

/** JSON with object keys sorted: equal values give equal text whatever their key order. */
export function canonical(v: unknown): string {
  return JSON.stringify(
    v,
    (_k, x) =>
      x && typeof x === "object" && !Array.isArray(x)
        ? Object.fromEntries(
          Object.keys(x).sort().map((k) => [k, (x as Record<string, unknown>)[k]]),
        )
        : x,
  );
}

/** [start, end, replacement] in the rule's text. */
type Edit = [number, number, string];

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** A scalar as YAML writes it (quoted only where it must be); null for a collection. */
function scalarText(v: unknown): string | null {
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (typeof v === "string") return stringify(v).trimEnd();
  return null;
}

function lineEnd(text: string, at: number): number {
  if (at > 0 && text[at - 1] === "\n") return at;
  const nl = text.indexOf("\n", at);
  return nl < 0 ? text.length : nl + 1;
}

/** Records the edits that turn `node` (holding `before`) into `after`; false: not possible in place. */
function walk(
  text: string,
  node: unknown,
  before: unknown,
  after: unknown,
  edits: Edit[],
): boolean {
  if (canonical(before) === canonical(after)) return true;
  if (isRecord(before) && isRecord(after) && isMap(node)) {
    if (Object.keys(before).some((k) => !(k in after))) return false;
    for (const [k, v] of Object.entries(after)) {
      const pair = node.items.find((p) => isScalar(p.key) && p.key.value === k);
      if (pair === undefined) {
        if (!insert(text, node, k, v, edits)) return false;
      } else if (!walk(text, pair.value, before[k], v, edits)) return false;
    }
    return true;
  }
  if (Array.isArray(before) && Array.isArray(after) && isSeq(node)) {
    if (before.length !== after.length) return false;
    return after.every((v, i) => walk(text, node.items[i], before[i], v, edits));
  }
  const replacement = scalarText(after);
  const range = (node as Node | null)?.range;
  if (replacement === null || !isScalar(node) || !range || isRecord(before)) return false;
  edits.push([range[0], range[1], replacement]);
  return true;
}

/** A key added to a mapping: before a flow mapping's "}", or on a line after a block mapping's last. */
function insert(
  text: string,
  map: { flow?: boolean; range?: [number, number, number] | null; items: unknown[] },
  key: string,
  value: unknown,
  edits: Edit[],
): boolean {
  const v = scalarText(value) ?? JSON.stringify(value);
  if (!map.range) return false;
  if (map.flow) {
    const close = text.lastIndexOf("}", map.range[1] - 1);
    if (close < map.range[0]) return false;
    let at = close;
    while (text[at - 1] === " ") at--;
    edits.push([at, at, `${map.items.length > 0 ? ", " : ""}${key}: ${v}`]);
    return true;
  }
  const pairs = map.items as { key: Node | null; value: Node | null }[];
  const firstKey = pairs[0]?.key?.range;
  const last = pairs.at(-1);
  const lastEnd = (last?.value ?? last?.key)?.range?.[1];
  if (!firstKey || lastEnd === undefined) return false;
  const column = firstKey[0] - (text.lastIndexOf("\n", firstKey[0] - 1) + 1);
  const at = lineEnd(text, lastEnd);
  const newline = at > 0 && text[at - 1] !== "\n" ? "\n" : "";
  edits.push([at, at, `${newline}${" ".repeat(column)}${key}: ${v}\n`]);
  return true;
}

/**
 * `body` (one "- ..." item of the rules list, holding `before`) edited to
 * hold `after`, or null when that cannot be done in place.
 */
export function editRuleText(body: string, before: unknown, after: unknown): string | null {
  const doc = parseDocument(body);
  if (doc.errors.length > 0 || !isSeq(doc.contents) || doc.contents.items.length !== 1) return null;
  const edits: Edit[] = [];
  if (!walk(body, doc.contents.items[0], before, after, edits)) return null;
  edits.sort((a, b) => b[0] - a[0]);
  let text = body;
  for (const [start, end, replacement] of edits) {
    text = text.slice(0, start) + replacement + text.slice(end);
  }
  // Read back: the edited text must hold exactly `after`.
  const check = parseDocument(text);
  if (check.errors.length > 0) return null;
  const read = check.toJS() as unknown[] | null;
  return Array.isArray(read) && read.length === 1 && canonical(read[0]) === canonical(after)
    ? text
    : null;
}
