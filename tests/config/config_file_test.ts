/**
 * Writing the configuration back: what the operator wrote survives, a file
 * changed on disk is never overwritten, symlinks are followed, and a failed
 * write leaves the old file and no temporary file behind.
 */
import assert from "node:assert/strict";
import {
  COMPACT_ABOVE,
  ConfigConflictError,
  ConfigFile,
  renderConfig,
} from "../../src/config/config_file.ts";
import { parseConfigText } from "../../src/config/load.ts";
import type { Config } from "../../src/config/schema.ts";

const OPERATOR_FILE = `# Head-end relay, owned by the NOC (ticket 4711)
workers: 1

rules:
  # camera 1: do not touch without calling Bob
  - name: cam1
    input: { interface: eth1, group: 239.1.1.1, port: 5001 }   # the lobby
    outputs:
      - { interface: eth2, group: 239.9.9.1, port: 6001 }
  - name: cam2
    input: { interface: eth1, group: 239.1.1.2, port: 5002 }
    outputs:
      - { interface: eth2, group: 239.9.9.2, port: 6002 }
`;

function rule(name: string, i: number): Config["rules"][number] {
  return {
    name,
    input: { interface: "eth1", group: `239.1.${i >> 8}.${i & 255}`, port: 5000 },
    outputs: [{ interface: "eth2", group: "239.9.9.9", port: 6000 }],
  };
}

function tempFile(text: string): string {
  const path = `${Deno.makeTempDirSync()}/mcr.yaml`;
  Deno.writeTextFileSync(path, text, { mode: 0o600 });
  return path;
}

function leftovers(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.includes(".tmp-"));
}

Deno.test("ConfigFile.write() keeps the operator's comments and the text of unchanged rules", async () => {
  const path = tempFile(OPERATOR_FILE);
  const file = new ConfigFile(path);
  const config = await file.load();
  await file.write({ ...config, rules: [...config.rules, rule("cam3", 3)] });
  const text = Deno.readTextFileSync(path);
  for (
    const kept of [
      "# Head-end relay, owned by the NOC (ticket 4711)",
      "# camera 1: do not touch without calling Bob",
      "# the lobby",
    ]
  ) {
    assert.ok(text.includes(kept), `kept: ${kept}\n${text}`);
  }
  assert.ok(
    text.includes("input: { interface: eth1, group: 239.1.1.2, port: 5002 }"),
    "an unchanged rule keeps its layout",
  );
  assert.deepEqual(parseConfigText(text, path).rules.map((r) => r.name), ["cam1", "cam2", "cam3"]);
  // Removing a rule removes only it.
  await file.write({ ...config, rules: config.rules.filter((r) => r.name !== "cam2") });
  const after = Deno.readTextFileSync(path);
  assert.ok(
    after.includes("# camera 1: do not touch without calling Bob") && !after.includes("cam2"),
  );
});

Deno.test("ConfigFile.write() refuses to overwrite a file changed on disk since it was read, and writes nothing", async () => {
  const path = tempFile(OPERATOR_FILE);
  const file = new ConfigFile(path);
  const config = await file.load();
  const edited = OPERATOR_FILE.replace("port: 6002", "port: 6003");
  Deno.writeTextFileSync(path, edited);
  await assert.rejects(
    file.write({ ...config, rules: [...config.rules, rule("cam3", 3)] }),
    ConfigConflictError,
  );
  assert.equal(Deno.readTextFileSync(path), edited, "the operator's unreloaded edit is intact");
  // After a reload (SIGHUP) the file is the baseline again.
  const reloaded = await file.load();
  await file.write({ ...reloaded, rules: [...reloaded.rules, rule("cam3", 3)] });
  assert.ok(Deno.readTextFileSync(path).includes("port: 6003"));
});

Deno.test("ConfigFile.write() through a symlink replaces the target and keeps the link", async () => {
  const dir = Deno.makeTempDirSync();
  Deno.mkdirSync(`${dir}/real`);
  Deno.writeTextFileSync(`${dir}/real/mcr.yaml`, OPERATOR_FILE, { mode: 0o600 });
  Deno.symlinkSync(`${dir}/real/mcr.yaml`, `${dir}/link.yaml`);
  const file = new ConfigFile(`${dir}/link.yaml`);
  const config = await file.load();
  await file.write({ ...config, rules: [...config.rules, rule("cam3", 3)] });
  assert.ok(Deno.lstatSync(`${dir}/link.yaml`).isSymlink, "the link is still a link");
  assert.ok(
    Deno.readTextFileSync(`${dir}/real/mcr.yaml`).includes("cam3"),
    "the real target has the change",
  );
  assert.deepEqual(leftovers(`${dir}/real`), []);
});

Deno.test({
  name:
    "ConfigFile.write() into a read-only directory fails, leaves the file as it was and no temporary file" +
    (Deno.uid() === 0
      ? " [skipped: root writes through directory permissions; the tmpfs test below covers root]"
      : ""),
  ignore: Deno.uid() === 0,
  fn: async () => {
    const path = tempFile(OPERATOR_FILE);
    const dir = path.slice(0, path.lastIndexOf("/"));
    const file = new ConfigFile(path);
    const config = await file.load();
    Deno.chmodSync(dir, 0o500);
    try {
      await assert.rejects(file.write({ ...config, rules: [...config.rules, rule("cam3", 3)] }));
    } finally {
      Deno.chmodSync(dir, 0o700);
    }
    assert.equal(Deno.readTextFileSync(path), OPERATOR_FILE);
    assert.deepEqual(leftovers(dir), []);
  },
});

Deno.test({
  name:
    "ConfigFile.write() on a full disk (a 64 KiB tmpfs) and on a read-only mount fails cleanly: old file intact, no temporary file",
  ignore: Deno.uid() !== 0 && Deno.env.get("CI") !== "true",
  fn: async () => {
    const dir = Deno.makeTempDirSync();
    const mount = (opts: string) =>
      new Deno.Command("mount", { args: ["-t", "tmpfs", "-o", opts, "tmpfs", dir] }).outputSync();
    assert.ok(mount("size=64k").success, "tmpfs mounted");
    try {
      const path = `${dir}/mcr.yaml`;
      Deno.writeTextFileSync(path, OPERATOR_FILE, { mode: 0o600 });
      const file = new ConfigFile(path);
      const config = await file.load();
      const huge = { ...config, rules: Array.from({ length: 1500 }, (_, i) => rule(`r${i}`, i)) };
      await assert.rejects(file.write(huge), /No space left|os error 28/);
      assert.equal(Deno.readTextFileSync(path), OPERATOR_FILE);
      assert.deepEqual(leftovers(dir), []);
      assert.ok(
        new Deno.Command("mount", { args: ["-o", "remount,ro", dir] }).outputSync().success,
      );
      await assert.rejects(file.write({ ...config, rules: [...config.rules, rule("cam3", 3)] }));
      assert.equal(Deno.readTextFileSync(path), OPERATOR_FILE);
      assert.deepEqual(leftovers(dir), []);
    } finally {
      new Deno.Command("umount", { args: [dir] }).outputSync();
    }
  },
});

Deno.test("renderConfig() writes files of more than COMPACT_ABOVE rules one rule per line, keeping the leading comments", () => {
  const config: Config = {
    workers: 1,
    rules: Array.from({ length: COMPACT_ABOVE + 1 }, (_, i) => rule(`r${i}`, i)),
  };
  const text = renderConfig(
    "# generated by the NOC's tool\n# do not edit by hand\nrules: []\n",
    config,
  );
  assert.ok(text.startsWith("# generated by the NOC's tool\n# do not edit by hand\n"));
  assert.equal(text.split("\n").filter((l) => l.startsWith("  - {")).length, COMPACT_ABOVE + 1);
  assert.deepEqual(parseConfigText(text, "x"), config);
  // Written again, the header does not grow.
  const again = renderConfig(text, config);
  assert.equal(again, text);
});
