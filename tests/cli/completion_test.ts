/**
 * Shell completion is generated from the commands' usage texts: bash
 * completes commands, subcommands, options and file names as a shell user
 * would see them; the zsh script is valid zsh and offers the same words.
 */
import assert from "node:assert/strict";
import { commandWords, completionCommand } from "../../src/cli/completion.ts";
import { COMMANDS } from "../../src/cli/dispatch.ts";

async function script(shell: "bash" | "zsh"): Promise<string> {
  const lines: string[] = [];
  const log = console.log;
  console.log = (s: string) => lines.push(s);
  try {
    assert.equal(await completionCommand([shell]), 0);
  } finally {
    console.log = log;
  }
  return lines.join("\n");
}

/** What bash completes for the words typed so far (the last one is being completed). */
async function bashComplete(file: string, words: string[]): Promise<string[]> {
  const arr = words.map((w) => `'${w}'`).join(" ");
  const cmd = `source ${file}; COMP_WORDS=(${arr}); COMP_CWORD=${
    words.length - 1
  }; _mcr; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const out = await new Deno.Command("bash", {
    args: ["-c", cmd],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout).split("\n").filter((l) => l !== "");
}

Deno.test("bash completes commands, subcommands, a command's own options and file names after --config", async () => {
  const file = Deno.makeTempFileSync({ suffix: ".bash" });
  const dir = Deno.makeTempDirSync();
  try {
    Deno.writeTextFileSync(file, await script("bash"));
    assert.deepEqual((await bashComplete(file, ["mcr", "ru"])).sort(), ["rules", "run"]);
    assert.deepEqual(await bashComplete(file, ["mcr", "rules", "a"]), ["add"]);
    assert.deepEqual((await bashComplete(file, ["mcr", "config", ""])).sort(), [
      "check",
      "schema",
      "show",
    ]);
    const health = await bashComplete(file, ["mcr", "health", "--s"]);
    assert.ok(health.includes("--stale-ms") && health.includes("--silent-warn"), health.join(" "));
    assert.ok(
      !(await bashComplete(file, ["mcr", "stats", "--"])).includes("--config"),
      "stats does not take --config",
    );
    Deno.writeTextFileSync(`${dir}/relay.yaml`, "rules: []\n");
    assert.deepEqual(await bashComplete(file, ["mcr", "run", "--config", `${dir}/rel`]), [
      `${dir}/relay.yaml`,
    ]);
  } finally {
    Deno.removeSync(file);
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("the zsh script is valid zsh and offers every command with its summary", async () => {
  const file = Deno.makeTempFileSync({ suffix: ".zsh" });
  try {
    const text = await script("zsh");
    Deno.writeTextFileSync(file, text);
    const check = await new Deno.Command("zsh", { args: ["-n", file], stderr: "piped" }).output();
    assert.equal(check.code, 0, new TextDecoder().decode(check.stderr));
    assert.match(text, /^#compdef mcr/);
    for (const name of Object.keys(COMMANDS)) {
      assert.ok(text.includes(`'${name}:`), `zsh offers ${name}`);
    }
  } finally {
    Deno.removeSync(file);
  }
});

Deno.test("completion words come from the usage texts: every command is there, with its --json where it has one", async () => {
  const words = await commandWords();
  assert.deepEqual(words.map((w) => w.name).sort(), Object.keys(COMMANDS).sort());
  for (
    const name of ["rules", "stats", "health", "workers", "log-level", "gen", "sink", "config"]
  ) {
    assert.ok(words.find((w) => w.name === name)!.options.includes("--json"), `${name} --json`);
  }
  assert.equal(await completionCommand(["fish"]), 1, "an unknown shell is a usage error");
});
