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

Deno.test("one rule's health counts its own outputs' losses, never another rule's or the whole relay's", () => {
  const name = relay.stats().rules[0].name;
  const ruleIf = relay.config().rules[0].input!.interface;
  const interfaces = [{ name: ruleIf, present: true, up: true }] as InterfaceState[];
  const lossy = {
    window_s: 5,
    // The relay loses 50 copies/s in all, at another rule's failing output.
    totals: { rx_packets: 100, tx_errors: 50 },
    workers: {},
    rules: {
      [name]: { pps: 10, bps: 0, loss_pps: 0, outputs: [] },
      other: { pps: 10, bps: 0, loss_pps: 50, outputs: [] },
    },
  };
  const all = evaluateHealth(relay.stats(), interfaces, relay.config(), lossy, {
    staleMs: 86_400_000,
  });
  assert.ok(all.reasons.some((r) => r.startsWith("loss 50.0")), JSON.stringify(all.reasons));
  const mine = evaluateHealth(relay.stats(), interfaces, relay.config(), lossy, {
    rule: name,
    staleMs: 86_400_000,
  });
  assert.equal(mine.loss_pps, 0);
  assert.ok(!mine.reasons.some((r) => r.includes("lose") || r.startsWith("loss")));
  const own = {
    ...lossy,
    rules: { ...lossy.rules, [name]: { ...lossy.rules[name], loss_pps: 3 } },
  };
  const bad = evaluateHealth(relay.stats(), interfaces, relay.config(), own, {
    rule: name,
    staleMs: 86_400_000,
  });
  assert.equal(bad.status, "warning");
  assert.match(bad.reasons.join(" "), /its outputs lose 3\.0 copies\/s/);
});
