import { test } from "node:test";
import assert from "node:assert/strict";
import { ConfigSchema } from "../../src/config/schema.ts";

function config(merge: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return {
    rules: [{
      name: "feed",
      merge,
      outputs: [{ interface: "out0", group: "239.9.9.9", port: 6000 }],
      ...extra,
    }],
  };
}

const legs = [
  { interface: "red0", group: "239.1.1.1", port: 5004 },
  { interface: "blue0", group: "239.2.1.1", port: 5004, source: "10.2.0.1" },
];

function issues(c: unknown): string[] {
  const r = ConfigSchema.safeParse(c);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
}

test("a merge of two legs with the defaults is valid; every key form and mode parses", () => {
  assert.deepEqual(issues(config({ legs })), []);
  assert.deepEqual(issues(config({ legs, key: "hash" })), []);
  assert.deepEqual(
    issues(config({
      legs,
      key: { sequence: { offset: 10, width: 8, count: { offset: 18, width: 2 } } },
      window_ms: 1000,
    })),
    [],
  );
  assert.deepEqual(issues(config({ legs, mode: "resequence", delay_ms: 30 })), []);
  assert.deepEqual(
    issues(config({ legs, mode: "failover", failover: { primary: 1, hold_off_ms: 100 } })),
    [],
  );
});

test("refused: input and merge together or neither, one leg, a non-UDP leg, twin legs, a spread merge", () => {
  const both = config({ legs });
  (both.rules[0] as Record<string, unknown>).input = legs[0];
  assert.match(issues(both).join("\n"), /exactly one of input .* or merge/);
  assert.match(issues({ rules: [{ name: "x", outputs: [] }] }).join("\n"), /exactly one of input/);
  assert.match(issues(config({ legs: [legs[0]] })).join("\n"), /merge.legs/);
  assert.match(
    issues(config({ legs: [legs[0], { interface: "b", group: "239.2.2.2", protocol: "esp" }] }))
      .join("\n"),
    /every leg's protocol must be udp/,
  );
  assert.match(issues(config({ legs: [legs[0], legs[0]] })).join("\n"), /legs\[0\] already/);
  assert.match(issues(config({ legs }, { spread: true })).join("\n"), /cannot be spread/);
  assert.match(issues(config({ legs }, { allow_fragments: true })).join("\n"), /whole datagrams/);
});

test("refused: settings of another mode, a primary that is no leg, a hash that cannot resequence or fail over", () => {
  assert.match(issues(config({ legs, delay_ms: 20 })).join("\n"), /delay_ms is for mode/);
  assert.match(
    issues(config({ legs, failover: { primary: 0 } })).join("\n"),
    /failover settings need mode/,
  );
  assert.match(
    issues(config({ legs, mode: "failover", failover: { primary: 2 } })).join("\n"),
    /primary must name one of the 2 legs/,
  );
  assert.match(
    issues(config({ legs, mode: "resequence", key: "hash" })).join("\n"),
    /resequencing needs a sequence number/,
  );
  assert.match(issues(config({ legs, mode: "failover", key: "hash" })).join("\n"), /not copies/);
});

test("a window a 16-bit sequence number cannot tell apart is refused with the numbers; a 4-byte key takes it", () => {
  const text = issues(config({ legs }, { rate_pps: 100_000 })).join("\n");
  assert.match(text, /450 ms window at 100000 pps holds 45000 datagrams/);
  assert.match(text, /lower window_ms or rate_pps/);
  assert.deepEqual(issues(config({ legs, window_ms: 200 }, { rate_pps: 100_000 })), []);
  assert.deepEqual(
    issues(config({ legs, key: { sequence: { offset: 0, width: 4 } } }, { rate_pps: 100_000 })),
    [],
  );
});

test("a leg that is another rule's input is a duplicate input, named by its leg", () => {
  const c = config({ legs });
  c.rules.push({
    name: "plain",
    input: legs[1],
    outputs: [{ interface: "out0", group: "239.9.9.8", port: 6000 }],
  } as never);
  assert.match(issues(c).join("\n"), /rules.1.input: duplicate input: rules\[0\]/);
});
