/**
 * A forwarding loop built by mistake through external links: rule A relays
 * from link 1 onto link 2, rule B from link 2 back onto link 1 (each link a
 * veth pair inside the relay's namespace, so what one rule sends the other
 * receives). `config check` cannot see such a loop; the data path must end it.
 */
import assert from "node:assert/strict";
import { withTopology } from "../../src/tools/topology.ts";
import { rootTest } from "../helpers/netns.ts";
import { runGen, sleep, startRelay } from "../helpers/relay.ts";

async function loopRelay(ttl: string) {
  return await withTopology(async (t) => {
    const n = await t.chain();
    const [a0, a1, b0, b1] = ["la0", "la1", "lb0", "lb1"].map((s) => `${t.prefix}${s}`);
    await t.addVeth(n.relay, a0, n.relay, a1);
    await t.addVeth(n.relay, b0, n.relay, b1);
    await t.addAddress(n.relay, a0, "10.9.1.1/24");
    await t.addAddress(n.relay, a1, "10.9.1.2/24");
    await t.addAddress(n.relay, b0, "10.9.2.1/24");
    await t.addAddress(n.relay, b1, "10.9.2.2/24");
    const yaml = "rules:\n" +
      `  - { name: a, input: { interface: ${a1}, group: 239.5.5.1, port: 5555 }, outputs: [{ interface: ${b0}, group: 239.5.5.2, port: 5555${ttl} }] }\n` +
      `  - { name: b, input: { interface: ${b1}, group: 239.5.5.2, port: 5555 }, outputs: [{ interface: ${a0}, group: 239.5.5.1, port: 5555${ttl} }] }\n`;
    const relay = await startRelay(t, n.relay, yaml);
    // One datagram with TTL 8 onto link 1 (it arrives on a1, rule a's input).
    await runGen(t, n.relay, {
      group: "239.5.5.1",
      port: 5555,
      count: 1,
      rate: 10,
      iface: a0,
      ttl: 8,
      size: 64,
    });
    await sleep(1500);
    const { stats } = await relay.stop();
    assert.ok(stats);
    const packets = (name: string) => stats.rules.find((r) => r.name === name)!.counters.packets;
    return { a: packets("a"), b: packets("b"), totals: stats.totals };
  });
}

rootTest(
  "root: a loop through external links ends when the TTL runs out: TTL 8 is relayed 7 times, then counted ttl_expired",
  async () => {
    const r = await loopRelay("");
    assert.equal(r.a, 4, "rule a relays it at TTL 8, 6, 4, 2");
    assert.equal(r.b, 3, "rule b at TTL 7, 5, 3");
    assert.equal(r.totals.drop_ttl_expired, 1, "rule b receives it with TTL 1 and stops it");
    assert.equal(r.totals.tx_sent, 7);
  },
);

rootTest(
  "root: with ttl set on the outputs, the loop guard stops the datagram when it comes back, and counts it",
  async () => {
    const r = await loopRelay(", ttl: 64");
    assert.equal(r.a, 1, "relayed once by rule a");
    assert.equal(r.b, 1, "and once by rule b");
    assert.equal(r.totals.drop_loop, 1, "rule a recognises its own datagram coming back");
    assert.equal(r.totals.tx_sent, 2);
  },
);
