/**
 * A strict parser of the Prometheus text exposition format (0.0.4), for
 * checking /metrics: HELP and TYPE precede their samples, every sample
 * belongs to a declared family, label values are properly escaped, values
 * are numbers, counters are non-negative and no series appears twice.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface ParsedMetrics {
  types: Map<string, string>;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

function parseLabels(text: string, line: number): Record<string, string> {
  const labels: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    const eq = text.indexOf("=", i);
    if (eq < 0) throw new Error(`line ${line}: label without "="`);
    const key = text.slice(i, eq).trim();
    if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(key)) {
      throw new Error(`line ${line}: bad label name "${key}"`);
    }
    if (text[eq + 1] !== '"') throw new Error(`line ${line}: label value not quoted`);
    let j = eq + 2;
    let value = "";
    for (; j < text.length && text[j] !== '"'; j++) {
      if (text[j] === "\\") {
        const n = text[++j];
        if (n === "n") value += "\n";
        else if (n === "\\" || n === '"') value += n;
        else throw new Error(`line ${line}: bad escape \\${n}`);
      } else value += text[j];
    }
    if (text[j] !== '"') throw new Error(`line ${line}: unterminated label value`);
    if (key in labels) throw new Error(`line ${line}: duplicate label ${key}`);
    labels[key] = value;
    i = j + 1;
    if (text[i] === ",") i++;
    else if (i < text.length) throw new Error(`line ${line}: expected "," between labels`);
  }
  return labels;
}

export function parsePrometheus(text: string): ParsedMetrics {
  const types = new Map<string, string>();
  const helps = new Set<string>();
  const samples: Sample[] = [];
  const seen = new Set<string>();
  text.split("\n").forEach((raw, idx) => {
    const line = idx + 1;
    if (raw === "") return;
    if (raw.startsWith("# HELP ")) {
      const name = raw.slice(7).split(" ")[0];
      if (!NAME.test(name)) throw new Error(`line ${line}: bad metric name in HELP`);
      helps.add(name);
      return;
    }
    if (raw.startsWith("# TYPE ")) {
      const [name, type] = raw.slice(7).split(" ");
      if (!["counter", "gauge", "histogram", "summary", "untyped"].includes(type)) {
        throw new Error(`line ${line}: bad type ${type}`);
      }
      if (types.has(name)) throw new Error(`line ${line}: TYPE repeated for ${name}`);
      types.set(name, type);
      return;
    }
    if (raw.startsWith("#")) return;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(raw);
    if (!m) throw new Error(`line ${line}: not a sample: ${raw}`);
    const [, name, , labelText, valueText] = m;
    // A histogram family F has samples F_bucket (with an `le` label), F_sum and F_count.
    const suffix = /_(bucket|sum|count)$/.exec(name);
    const base = suffix && types.get(name.slice(0, -suffix[0].length)) === "histogram"
      ? name.slice(0, -suffix[0].length)
      : name;
    const type = types.get(base);
    if (!type) throw new Error(`line ${line}: sample of undeclared family ${name}`);
    if (!helps.has(base)) throw new Error(`line ${line}: family ${base} has no HELP`);
    if (type === "histogram" && base === name) {
      throw new Error(`line ${line}: histogram sample ${name} without _bucket/_sum/_count`);
    }
    const value = Number(valueText);
    if (Number.isNaN(value) && valueText !== "NaN") {
      throw new Error(`line ${line}: bad value ${valueText}`);
    }
    if ((type === "counter" || type === "histogram") && !(value >= 0)) {
      throw new Error(`line ${line}: negative ${type} sample`);
    }
    const labels = labelText ? parseLabels(labelText, line) : {};
    if (type === "histogram" && name.endsWith("_bucket")) {
      if (!("le" in labels)) throw new Error(`line ${line}: histogram bucket without le`);
      if (labels.le !== "+Inf" && Number.isNaN(Number(labels.le))) {
        throw new Error(`line ${line}: bad le ${labels.le}`);
      }
    }
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seen.has(key)) throw new Error(`line ${line}: duplicate series ${key}`);
    seen.add(key);
    samples.push({ name, labels, value });
  });
  return { types, samples };
}

/** Sum of a family's samples whose labels include `match`. */
export function sumOf(m: ParsedMetrics, name: string, match: Record<string, string> = {}): number {
  return m.samples
    .filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v))
    .reduce((a, s) => a + s.value, 0);
}
