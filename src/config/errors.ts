/** Configuration problems, with the path of every bad field. */

export interface ConfigIssue {
  path: (string | number)[];
  message: string;
}

/** Renders an issue path the way users write it: rules[0].outputs[1].group */
export function formatPath(path: readonly (string | number | symbol)[]): string {
  let out = "";
  for (const p of path) {
    if (typeof p === "number") out += `[${p}]`;
    else out += out === "" ? String(p) : `.${String(p)}`;
  }
  return out === "" ? "(root)" : out;
}

/** A configuration that cannot be used; nothing was changed. */
export class ConfigError extends Error {
  readonly issues: ConfigIssue[];
  readonly source: string;

  constructor(issues: ConfigIssue[], source: string) {
    super(
      `invalid configuration (${source}):\n${
        issues.map((i) => `  ${formatPath(i.path)}: ${i.message}`).join("\n")
      }`,
    );
    this.name = "ConfigError";
    this.issues = issues;
    this.source = source;
  }

  /** One line per issue: `rules[0].input.group: must be ...`. */
  describe(): string[] {
    return this.issues.map((i) => `${formatPath(i.path)}: ${i.message}`);
  }
}
