/**
 * RuleText: a write-back edits only the rules a change touched; every other
 * byte (comments, flow maps, spacing, other keys) stays as written.
 */
import assert from "node:assert/strict";
import { parseDocument } from "yaml";
import { parseConfigText } from "../../src/config/load.ts";
import { RuleText } from "../../src/config/rule_text.ts";
import type { Config, Rule } from "../../src/config/schema.ts";

const FILE = `# The studio relay
log: { level: info }   # keep this
rules:
  # camera one
  - name: cam1
    input: { interface: eth1, group: 239.1.1.1, port: 5001 }  # [e3r2]
    outputs:
      - { interface: eth2, group: 239.9.9.1, port: 6001 }

  # camera two, flow style
  - { name: cam2, input: { interface: eth1, group: 239.1.1.2, port: 5002 }, outputs: [{ interface: eth2, group: 239.9.9.2, port: 6002 }] }
  # camera three
  -
    name: cam3
    input: { interface: eth1, group: 239.1.1.3, port: 5003 }
    outputs: [ { interface: eth2, group: 239.9.9.3, port: 6003 } ]
# after the rules
`;

function load(text: string): { config: Config; rules: RuleText } {
  const config = parseConfigText(text, "test");
  const rules = RuleText.of(text, parseDocument(text), config);
  assert.ok(rules, "the file's rules are a block sequence");
  return { config, rules };
}

function rule(name: string, port: number): Rule {
  return {
    name,
    input: { interface: "eth1", group: `239.1.2.${port % 250}`, port },
    outputs: [{ interface: "eth2", group: `239.9.8.${port % 250}`, port: port + 1000 }],
  };
}

Deno.test("an added rule is appended; every other byte of the file is kept", () => {
  const { config, rules } = load(FILE);
  const next = { ...config, rules: [...config.rules, rule("cam4", 5004)] };
  const edited = rules.edit(next)!;
  const at = FILE.indexOf("# after the rules");
  assert.ok(edited.text.startsWith(FILE.slice(0, at)), "everything before the tail unchanged");
  assert.ok(edited.text.endsWith("# after the rules\n"));
  assert.deepEqual(parseConfigText(edited.text, "x"), next);
});

Deno.test("a removed rule is cut out with the comment lines before it, nothing else", () => {
  const { config, rules } = load(FILE);
  const next = { ...config, rules: config.rules.filter((r) => r.name !== "cam2") };
  const edited = rules.edit(next)!;
  assert.ok(!edited.text.includes("camera two"));
  assert.ok(!edited.text.includes("cam2"));
  for (
    const kept of [
      "# The studio relay",
      "# keep this",
      "# camera one",
      "# [e3r2]",
      "# camera three",
      "# after the rules",
    ]
  ) {
    assert.ok(edited.text.includes(kept), kept);
  }
  // The blank line and the comment before cam2 went with it.
  assert.equal(
    edited.text,
    FILE.replace(/\n {2}# camera two[^\n]*\n {2}- \{ name: cam2[^\n]*\n/, ""),
  );
  assert.deepEqual(parseConfigText(edited.text, "x"), next);
});

Deno.test("a replaced rule is written anew in place with its comments; the others keep their text", () => {
  const { config, rules } = load(FILE);
  const cam1 = { ...config.rules[0], outputs: [{ ...config.rules[0].outputs[0], dscp: 46 }] };
  const next = { ...config, rules: [cam1, config.rules[1], config.rules[2]] };
  const edited = rules.edit(next)!;
  assert.ok(edited.text.includes("  # camera one\n  - name: cam1\n"));
  assert.ok(edited.text.includes("dscp: 46"));
  // cam2 and cam3 untouched, byte for byte.
  assert.ok(edited.text.includes(FILE.slice(FILE.indexOf("\n  # camera two"))));
  assert.deepEqual(parseConfigText(edited.text, "x"), next);
  // And the next edit starts from this one.
  const again = edited.next.edit({ ...next, rules: next.rules.slice(1) })!;
  assert.deepEqual(parseConfigText(again.text, "x").rules.map((r) => r.name), ["cam2", "cam3"]);
});

Deno.test("a file of one-line rules gets one-line rules; a file without a final newline is continued correctly", () => {
  const text =
    "rules:\n  - { name: a, input: { interface: e1, group: 239.1.1.1, port: 1 }, outputs: [{ interface: e2, group: 239.2.2.2, port: 2 }] }";
  const { config, rules } = load(text);
  const next = { ...config, rules: [...config.rules, rule("b", 3000)] };
  const edited = rules.edit(next)!;
  const lines = edited.text.split("\n").filter((l) => l !== "");
  assert.equal(lines.length, 3, edited.text);
  assert.match(lines[2], /^ {2}- \{"name":"b"/);
  assert.deepEqual(parseConfigText(edited.text, "x"), next);
});

Deno.test("a change beyond the rules, no rules left, or rules not in a block sequence: not a rules edit (null)", () => {
  const { config, rules } = load(FILE);
  assert.equal(rules.edit({ ...config, log: { level: "debug" } }), null);
  assert.equal(rules.edit({ ...config, rules: [] }), null);
  const flow =
    "rules: [ { name: a, input: { interface: e1, group: 239.1.1.1, port: 1 }, outputs: [{ interface: e2, group: 239.2.2.2, port: 2 }] } ]\n";
  assert.equal(RuleText.of(flow, parseDocument(flow), parseConfigText(flow, "x")), null);
});

Deno.test("10,000 one-line rules: one rule changed is written without rendering the others", () => {
  const text = "rules:\n" +
    Array.from({ length: 10_000 }, (_, i) => `  - ${JSON.stringify(rule(`r${i}`, 1000 + i))}\n`)
      .join("");
  const { config, rules } = load(text);
  const next = { ...config, rules: [...config.rules.slice(1), rule("new", 40_000)] };
  const edited = rules.edit(next)!;
  assert.equal(
    edited.text,
    text.replace(/^rules:\n[^\n]*\n/, "rules:\n") + `  - ${JSON.stringify(rule("new", 40_000))}\n`,
  );
});

const COMMENTED = `rules:
  - name: studio # the studio feed
    # where it comes from
    input: { interface: eth1, group: 239.1.1.9, port: 5009 }
    # where it goes
    outputs:
      - { interface: eth2, group: 239.9.9.9, port: 6009, dscp: 34 } # [e3r2]
      - interface: eth3 # the backup
        group: 239.9.9.10
        port: 6010
    stale_after_ms: 3000 # alarms after 3 s
`;

Deno.test("a value changed inside a rule is edited where it stands: the rule's own comments, key order, flow maps and spacing stay", () => {
  const { config, rules } = load(COMMENTED);
  const r = config.rules[0];
  const changed = { ...r, outputs: [{ ...r.outputs[0], dscp: 46 }, r.outputs[1]] };
  const edited = rules.edit({ ...config, rules: [changed] })!;
  assert.equal(edited.text, COMMENTED.replace("dscp: 34", "dscp: 46"));
  // A block output's port, and a key added to a block mapping and to a flow mapping.
  const more = {
    ...changed,
    outputs: [{ ...changed.outputs[0], ttl: 9 }, { ...changed.outputs[1], port: 7010, ttl: 4 }],
  };
  const again = edited.next.edit({ ...config, rules: [more] })!;
  assert.equal(
    again.text,
    COMMENTED.replace("dscp: 34 }", "dscp: 46, ttl: 9 }")
      .replace("        port: 6010\n", "        port: 7010\n        ttl: 4\n"),
  );
  assert.deepEqual(parseConfigText(again.text, "x").rules[0], more);
});

Deno.test("a change that cannot be made in place (a key removed, a list grown) writes the rule anew, still exactly the rule", () => {
  const { config, rules } = load(COMMENTED);
  const r = config.rules[0];
  const { stale_after_ms: _gone, ...fewer } = r;
  const grown = {
    ...r,
    outputs: [...r.outputs, { interface: "eth4", group: "239.9.9.11", port: 6011 }],
  };
  for (const next of [fewer as Rule, grown]) {
    const edited = rules.edit({ ...config, rules: [next] })!;
    assert.deepEqual(parseConfigText(edited.text, "x").rules[0], next);
    assert.ok(edited.text.startsWith("rules:\n"));
  }
});
