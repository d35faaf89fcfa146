/**
 * Any IP protocol: IPsec ESP multicast relayed with its group rewritten and
 * its payload (SPI, sequence, data) byte-identical, checked in a capture.
 */
import assert from "node:assert/strict";
import { withTopology } from "../../src/tools/topology.ts";
import { DEV_RUN_FLAGS } from "../../src/runtime.ts";
import { rootTest } from "../helpers/netns.ts";
import { sleep, startCapture, startRelay } from "../helpers/relay.ts";
import { espPayload } from "./fixtures/inject_esp_frames.ts";

/** Each packet of `tcpdump -x` output: its first line and its bytes (from the IP header on). */
function packets(text: string): { line: string; bytes: Uint8Array }[] {
  const out: { line: string; bytes: number[] }[] = [];
  for (const l of text.split("\n")) {
    const hex = l.match(/^\s+0x[0-9a-f]+:\s+((?:[0-9a-f]{4}\s?)+)/);
    if (hex && out.length > 0) {
      for (const w of hex[1].trim().split(/\s+/)) {
        for (let i = 0; i < w.length; i += 2) {
          out[out.length - 1].bytes.push(parseInt(w.slice(i, i + 2), 16));
        }
      }
    } else if (l.trim() !== "") out.push({ line: l, bytes: [] });
  }
  return out.map((p) => ({ line: p.line, bytes: Uint8Array.from(p.bytes) }));
}

rootTest(
  "root: ESP multicast is relayed with its group rewritten and its payload byte for byte as sent",
  async () => {
    await withTopology(async (t) => {
      const n = await t.chain();
      const yaml = "rules:\n" +
        `  - { name: ipsec, input: { interface: ${n.relayIn}, group: 239.1.1.50, protocol: esp }, outputs: [{ interface: ${n.relayOut}, group: 239.9.9.50 }] }\n`;
      const relay = await startRelay(t, n.relay, yaml);
      const pcap = `${Deno.makeTempDirSync()}/esp.pcap`;
      const capture = await startCapture(t, n.sink, [
        "tcpdump",
        "-i",
        n.sinkIf,
        "-U",
        "-w",
        pcap,
        "ip proto 50",
      ]);
      const count = 300;
      const injector = new URL("./fixtures/inject_esp_frames.ts", import.meta.url).pathname;
      const config = new URL("../../deno.json", import.meta.url).pathname;
      const inj = await t.run(n.gen, [
        Deno.execPath(),
        "run",
        "--config",
        config,
        ...DEV_RUN_FLAGS,
        injector,
        n.genIf,
        String(count),
      ], 120_000);
      assert.equal(inj.code, 0, inj.stderr);
      await sleep(500);
      capture.kill("SIGTERM");
      await capture.status;
      const { stats } = await relay.stop();
      const read = await t.run(n.sink, ["tcpdump", "-nn", "-v", "-x", "-r", pcap]);
      const got = packets(read.stdout).filter((p) => p.bytes.length > 0);
      assert.equal(
        stats?.rules[0].counters.packets,
        count,
        `relayed: ${JSON.stringify(stats?.totals)}`,
      );
      assert.equal(got.length, count, `${got.length} ESP packets captured\n${read.stderr}`);
      got.forEach((p, i) => {
        const ihl = (p.bytes[0] & 0x0f) * 4;
        assert.equal(p.bytes[9], 50, "protocol ESP");
        assert.deepEqual([...p.bytes.subarray(16, 20)], [239, 9, 9, 50], "the group rewritten");
        assert.equal(p.bytes[8], 7, "TTL 8 less one hop");
        assert.deepEqual(
          p.bytes.subarray(ihl),
          espPayload(i),
          `packet ${i}: SPI, sequence and data unchanged`,
        );
      });
      assert.ok(!read.stdout.includes("bad cksum"), "IPv4 header checksums valid");
      assert.ok(stats);
      assert.equal(stats.rules[0].counters.packets, count);
    });
  },
);
