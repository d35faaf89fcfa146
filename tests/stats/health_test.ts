/**
 * evaluateHealth(): the verdict, its reasons and measures; one rule judged
 * with the interfaces it uses.
 */
import assert from "node:assert/strict";
import { evaluateHealth, UnknownRuleError } from "../../src/stats/health.ts";
import { BASE_CONFIG, FakeRelay } from "../helpers/fake_relay.ts";
import type { InterfaceState } from "../../src/supervisor/control.ts";

const relay = new FakeRelay(structuredClone(BASE_CONFIG));
const rates = { window_s: 5, totals: { rx_packets: 100, tx_errors: 2 }, workers: {}, rules: {} };

Deno.test("the report carries TX errors per second and the longest silence", () => {
  const r = evaluateHealth(relay.stats(), [], relay.config(), rates);
  assert.equal(r.tx_errors_pps, 2);
  assert.equal(r.rx_pps, 100);
  assert.ok(r.silent_s >= 0);
  assert.equal(r.rule, undefined);
});

Deno.test("one rule is judged alone, with only its interfaces; an unknown rule is an error", () => {
  const name = relay.stats().rules[0].name;
  const ruleIf = relay.config().rules[0].input!.interface;
  const interfaces = [
    { name: ruleIf, present: true, up: true },
    { name: "elsewhere0", present: false, up: false },
  ] as InterfaceState[];
  assert.equal(
    evaluateHealth(relay.stats(), interfaces, relay.config(), rates).status,
    "critical",
    "all: the absent one counts",
  );
  const one = evaluateHealth(relay.stats(), interfaces, relay.config(), rates, {
    rule: name,
    staleMs: 86_400_000,
  });
  assert.equal(one.rule, name);
  assert.equal(one.rules, 1);
  assert.ok(
    !one.reasons.some((r) => r.includes("elsewhere0")),
    "another rule's interface is not this rule's problem",
  );
  assert.throws(
    () => evaluateHealth(relay.stats(), interfaces, relay.config(), rates, { rule: "nope" }),
    UnknownRuleError,
  );
});
