/**
 * IPv6 end to end, in namespaces with IPv6 on the test links: chain and
 * dual-bridge relays of an IPv6 group, translation 4->6 and 6->4, and
 * source-specific joins with MLDv2. Every receiver is a plain UDP socket:
 * the kernel drops a datagram with a bad UDP checksum (mandatory over IPv6),
 * so every packet counted arrived valid.
 */
import assert from "node:assert/strict";
import { type ChainNames, type Topology, withTopology } from "../../src/tools/topology.ts";
import { rootTest } from "../helpers/netns.ts";
import { assertConservation, runGen, sleep, startRelay, startSink } from "../helpers/relay.ts";

/**
 * Captures with tcpdump in `ns` until a line matches `pattern` or timeoutMs
 * passes; returns everything captured (the caller asserts on it).
 */
function capture(
  t: Topology,
  ns: string,
  args: string[],
  pattern: RegExp,
  timeoutMs: number,
): { done: Promise<string> } {
  const p = t.spawn(ns, ["tcpdump", "-n", "-vv", "-l", ...args]);
  let text = "";
  const done = (async () => {
    const deadline = sleep(timeoutMs).then(() => "timeout");
    const reader = (async () => {
      for await (const chunk of p.stdout.pipeThrough(new TextDecoderStream())) {
        text += chunk;
        if (pattern.test(text)) return "matched";
      }
      return "ended";
    })();
    await Promise.race([deadline, reader]);
    try {
      p.kill("SIGTERM");
    } catch { /* exited */ }
    await p.status;
    return text;
  })();
  return { done };
}

/**
 * Relays 10,000 packets of ff3e::1:N port 5000+N to ff3e::9:N port 6000+N
 * (`extra`: more output keys) across a prepared topology; returns what the
 * generator sent, what the receiver got and the relay's final counters.
 */
async function relayIpv6Group(t: Topology, n: ChainNames, id: number, extra = "") {
  const relay = await startRelay(
    t,
    n.relay,
    [
      "rules:",
      "  - name: v6",
      `    input: { interface: ${n.relayIn}, group: "ff3e::1:${id}", port: ${5000 + id} }`,
      `    outputs: [{ interface: ${n.relayOut}, group: "ff3e::9:${id}", port: ${
        6000 + id
      }${extra} }]`,
      "",
    ].join("\n"),
  );
  const sink = startSink(t, n.sink, {
    group: `ff3e::9:${id}`,
    port: 6000 + id,
    iface: n.sinkIf,
    expect: 10_000,
    runId: 60 + id,
  });
  await sleep(300);
  const gen = await runGen(t, n.gen, {
    group: `ff3e::1:${id}`,
    port: 5000 + id,
    count: 10_000,
    rate: 10_000,
    iface: n.genIf,
    runId: 60 + id,
  });
  const got = await sink.result;
  const { stats } = await relay.stop();
  return { gen, got, stats };
}

rootTest(
  "root: IPv6 chain relays every packet of an IPv6 group exactly once, intact, with the configured hop limit",
  async () => {
    await withTopology(async (t) => {
      const { gen, got, stats } = await relayIpv6Group(
        t,
        await t.chain({ ipv6: true }),
        1,
        ", ttl: 7",
      );
      assert.equal(gen.sent, 10_000);
      assert.equal(got.unique, 10_000, `receiver got ${got.unique} of 10000`);
      assert.equal(got.duplicates, 0);
      assert.equal(got.corrupted, 0);
      assert.equal(got.last_ttl, 7, "hop limit as configured");
      assert.ok(stats);
      assert.equal(stats.rules[0].counters.packets, 10_000);
      assert.equal(stats.totals.tx_sent, 10_000);
      assertConservation(stats);
    });
  },
);

rootTest("root: IPv6 dual-bridge topology relays an IPv6 group across two bridges", async () => {
  await withTopology(async (t) => {
    const { gen, got, stats } = await relayIpv6Group(t, await t.dualBridge({ ipv6: true }), 2);
    assert.equal(gen.sent, 10_000);
    assert.equal(got.unique, 10_000, `receiver got ${got.unique} of 10000`);
    assert.equal(got.duplicates, 0);
    assert.equal(got.corrupted, 0);
    assert.equal(got.last_ttl, 3, "no ttl set: the sender's hop limit (4) less one");
    assert.ok(stats);
    assertConservation(stats);
  });
});

rootTest("root: 4->6 and 6->4 outputs arrive valid at receivers of the other family", async () => {
  await withTopology(async (t) => {
    const n = await t.chain({ ipv6: true });
    const relay = await startRelay(
      t,
      n.relay,
      [
        "rules:",
        "  - name: four-to-six",
        `    input: { interface: ${n.relayIn}, group: 239.1.4.6, port: 5046 }`,
        `    outputs: [{ interface: ${n.relayOut}, group: "ff3e::4:6", port: 6046, ttl: 5, dscp: 46 }]`,
        "  - name: six-to-four",
        `    input: { interface: ${n.relayIn}, group: "ff3e::6:4", port: 5064 }`,
        `    outputs: [{ interface: ${n.relayOut}, group: 239.6.4.4, port: 6064, ttl: 6 }]`,
        "",
      ].join("\n"),
    );
    const sink6 = startSink(t, n.sink, {
      group: "ff3e::4:6",
      port: 6046,
      iface: n.sinkIf,
      expect: 5000,
      runId: 63,
    });
    const sink4 = startSink(t, n.sink, {
      group: "239.6.4.4",
      port: 6064,
      iface: n.sinkIf,
      expect: 5000,
      runId: 64,
    });
    await sleep(300);
    await Promise.all([
      runGen(t, n.gen, {
        group: "239.1.4.6",
        port: 5046,
        count: 5000,
        rate: 5000,
        iface: n.genIf,
        runId: 63,
        size: 1200,
      }),
      runGen(t, n.gen, {
        group: "ff3e::6:4",
        port: 5064,
        count: 5000,
        rate: 5000,
        iface: n.genIf,
        runId: 64,
        size: 1200,
      }),
    ]);
    const [got6, got4] = await Promise.all([sink6.result, sink4.result]);
    const { stats } = await relay.stop();
    assert.equal(
      got6.unique,
      5000,
      `IPv6 receiver got ${got6.unique} of 5000 translated from IPv4`,
    );
    assert.equal(got6.corrupted, 0);
    assert.equal(got6.last_ttl, 5);
    assert.equal(
      got4.unique,
      5000,
      `IPv4 receiver got ${got4.unique} of 5000 translated from IPv6`,
    );
    assert.equal(got4.corrupted, 0);
    assert.equal(got4.last_ttl, 6);
    assert.ok(stats);
    assert.equal(
      stats.totals.tx_too_big,
      0,
      "1200-byte payloads grow by 20 bytes 4->6 and still fit the MTU",
    );
    assertConservation(stats);
  });
});

rootTest(
  "root: an (S,G) rule on an IPv6 group joins with MLDv2 naming the source, and only that sender is relayed",
  async () => {
    await withTopology(async (t) => {
      const n = await t.chain({ ipv6: true });
      await t.addAddress(n.gen, n.genIf, "2001:db8::5/64");
      // MLDv2 reports on the generator's side of the link: a hop-by-hop header
      // (router alert, 8 bytes), then ICMPv6 type 143.
      const report = capture(
        t,
        n.gen,
        ["-i", n.genIf, "ip6[6] == 0 and ip6[48] == 143"],
        /ff3e::7[^\]]*2001:db8::1/,
        10_000,
      );
      await sleep(1000);
      const relay = await startRelay(
        t,
        n.relay,
        [
          "rules:",
          "  - name: ssm6",
          `    input: { interface: ${n.relayIn}, group: "ff3e::7", port: 5007, source: "2001:db8::1" }`,
          `    outputs: [{ interface: ${n.relayOut}, group: "ff3e::9:7", port: 6007 }]`,
          "",
        ].join("\n"),
      );
      const captured = await report.done;
      const joined = (await t.run(n.relay, ["cat", "/proc/net/mcfilter6"])).stdout;
      const sink = startSink(t, n.sink, { group: "ff3e::9:7", port: 6007, iface: n.sinkIf });
      await sleep(300);
      await Promise.all([
        runGen(t, n.gen, {
          group: "ff3e::7",
          port: 5007,
          count: 2000,
          rate: 2000,
          sourceIp: "2001:db8::1",
          iface: n.genIf,
          runId: 71,
        }),
        runGen(t, n.gen, {
          group: "ff3e::7",
          port: 5007,
          count: 2000,
          rate: 2000,
          sourceIp: "2001:db8::5",
          iface: n.genIf,
          runId: 72,
        }),
      ]);
      const got = await sink.result;
      const { stats } = await relay.stop();
      assert.match(captured, /multicast listener report v2/i, captured);
      assert.match(captured, /gaddr ff3e::7 (allow|is_in) \{ 2001:db8::1 \}/, captured);
      assert.match(
        joined,
        /ff3e0000000000000000000000000007\s+20010db8000000000000000000000001/,
        "the kernel holds the (S,G) filter",
      );
      assert.equal(got.unique, 2000, "only the named sender is relayed");
      assert.ok(stats);
      assert.equal(stats.totals.matched, 2000);
    });
  },
);
