/**
 * The size budget, as `deno lint` rules (deno.json lint.plugins), so CI and
 * every editor name the offenders:
 *
 *   budget/file-length      a production file (main.ts, src/, ffi/) over 600 lines
 *   budget/function-length  a production function or method over 120 lines
 *
 * A file or function that is a table or literal (generated or declarative,
 * not logic) may be excepted: it is named in EXCEPTIONS with the reason.
 * Tests, benchmarks and tools are outside the budget.
 */

export const MAX_FILE_LINES = 600;
export const MAX_FUNCTION_LINES = 120;

/** Path suffix (or `path#function`) -> why it may be longer. */
export const EXCEPTIONS: Readonly<Record<string, string>> = {};

/** main.ts and what is under src/ or ffi/, but not the tests', benchmarks' or tools' own files. */
function production(filename: string): boolean {
  const path = filename.replaceAll("\\", "/");
  if (/\/(tests|bench)\//.test(path)) return false;
  return /\/(src|ffi)\//.test(path) || /(^|\/)main\.ts$/.test(path);
}

function excepted(filename: string, fn?: string): boolean {
  const path = filename.replaceAll("\\", "/");
  return Object.keys(EXCEPTIONS).some((key) => {
    const [file, name] = key.split("#");
    return path.endsWith(file) && (name === undefined || name === fn);
  });
}

function lineCount(text: string, range: Deno.lint.Range): number {
  let n = 1;
  for (let i = range[0]; i < range[1]; i++) if (text.charCodeAt(i) === 10) n++;
  return n;
}

type FunctionNode =
  | Deno.lint.FunctionDeclaration
  | Deno.lint.FunctionExpression
  | Deno.lint.ArrowFunctionExpression;

/** A readable name: the declaration's, the method's or the variable's it is assigned to. */
function nameOf(node: FunctionNode): string {
  if (node.type === "FunctionDeclaration" && node.id) return node.id.name;
  const parent = node.parent as Deno.lint.Node | undefined;
  if (parent?.type === "MethodDefinition" || parent?.type === "Property") {
    const key = parent.key;
    if (key.type === "Identifier") return key.name;
    if (key.type === "PrivateIdentifier") return `#${key.name}`;
  }
  if (parent?.type === "VariableDeclarator" && parent.id.type === "Identifier") {
    return parent.id.name;
  }
  return "(anonymous)";
}

const plugin: Deno.lint.Plugin = {
  name: "budget",
  rules: {
    "file-length": {
      create(context) {
        return {
          Program(node) {
            if (!production(context.filename) || excepted(context.filename)) return;
            const lines = context.sourceCode.text.split("\n").length - 1;
            if (lines <= MAX_FILE_LINES) return;
            context.report({
              range: [0, 0],
              message:
                `${lines} lines, over the budget of ${MAX_FILE_LINES}: split it by owner (see the README's room map)`,
            });
            void node;
          },
        };
      },
    },
    "function-length": {
      create(context) {
        const check = (node: FunctionNode) => {
          if (!production(context.filename)) return;
          const lines = lineCount(context.sourceCode.text, node.range);
          if (lines <= MAX_FUNCTION_LINES) return;
          const name = nameOf(node);
          if (excepted(context.filename, name)) return;
          context.report({
            range: [node.range[0], node.range[0] + 1],
            message: `${name} is ${lines} lines, over the budget of ${MAX_FUNCTION_LINES}`,
          });
        };
        return {
          FunctionDeclaration: check,
          FunctionExpression: check,
          ArrowFunctionExpression: check,
        };
      },
    },
  },
};

export default plugin;
