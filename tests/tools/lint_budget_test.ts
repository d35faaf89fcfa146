import { test } from "node:test";
import assert from "node:assert/strict";
import plugin, { MAX_FILE_LINES, MAX_FUNCTION_LINES } from "../../tools/lint_budget.ts";

/** `n` statements, one per line. */
function body(n: number, indent = "  "): string {
  return Array.from({ length: n }, (_, i) => `${indent}console.log(${i});`).join("\n");
}

function diagnostics(file: string, source: string): string[] {
  return Deno.lint.runPlugin(plugin, file, source).map((d) => `${d.id}: ${d.message}`);
}

test("a production file over the budget is named; at the budget, a test or a benchmark is not", () => {
  const over = body(MAX_FILE_LINES + 1, "") + "\n";
  const at = body(MAX_FILE_LINES, "") + "\n";
  assert.deepEqual(diagnostics("/repo/src/supervisor/big.ts", over), [
    `budget/file-length: ${MAX_FILE_LINES + 1} lines, over the budget of ${MAX_FILE_LINES}: ` +
    "split it by owner (see the README's room map)",
  ]);
  assert.deepEqual(diagnostics("/repo/ffi/big.ts", over).length, 1);
  assert.deepEqual(diagnostics("/repo/main.ts", over).length, 1);
  assert.deepEqual(diagnostics("/repo/src/supervisor/big.ts", at), []);
  assert.deepEqual(diagnostics("/repo/tests/supervisor/big_test.ts", over), []);
  assert.deepEqual(diagnostics("/repo/bench/big.ts", over), []);
  assert.deepEqual(diagnostics("/repo/tools/big.ts", over), []);
  // src/tools/ is production code (the generator, the sink, the topology of the demo).
  assert.deepEqual(diagnostics("/repo/src/tools/big.ts", over).length, 1);
});

test("functions, methods and arrow functions over the budget are named", () => {
  const lines = MAX_FUNCTION_LINES - 2; // the body; the signature and closing brace make the rest
  const fine = `export function fine(): void {\n${body(lines)}\n}\n`;
  const long = `export function long(): void {\n${body(lines + 1)}\n}\n`;
  assert.deepEqual(diagnostics("/repo/src/a.ts", fine), []);
  assert.deepEqual(diagnostics("/repo/src/a.ts", long), [
    `budget/function-length: long is ${
      MAX_FUNCTION_LINES + 1
    } lines, over the budget of ${MAX_FUNCTION_LINES}`,
  ]);
  const method = `export class C {\n  #run(): void {\n${body(lines + 5, "    ")}\n  }\n}\n`;
  assert.match(diagnostics("/repo/src/a.ts", method)[0], /#run is 125 lines/);
  const arrow = `export const go = (): void => {\n${body(lines + 1)}\n};\n`;
  assert.match(diagnostics("/repo/src/a.ts", arrow)[0], /go is 121 lines/);
  // A long callback inside a short function is named on its own, as anonymous.
  const nested = `export function f(): void {\n  [1].forEach(() => {\n${
    body(lines + 1, "    ")
  }\n  });\n}\n`;
  const found = diagnostics("/repo/src/a.ts", nested);
  assert.equal(found.length, 2);
  assert.match(found[1], /\(anonymous\) is 121 lines/);
});

test("the tree itself is within the budget (what `make lint` and CI check)", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["lint", "main.ts", "src", "ffi"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  const offenders = text.split("\n").filter((l) => l.includes("budget/"));
  assert.deepEqual(offenders, [], text);
  assert.equal(out.code, 0, text);
});
