/**
 * Streams of another IP protocol than UDP (`protocol: esp` or a number):
 * the IP payload is carried unchanged (ESP: SPI, sequence, data, ICV);
 * destination, source and TTL are rewritten and the header checksum is right.
 */
import assert from "node:assert/strict";
import { processBlock } from "../../src/dataplane/forward_loop.ts";
import { fakeWorker, planFor, workerCounters } from "../helpers/fake_ring.ts";
import { get16, onesSum, udpFrame } from "../helpers/frames.ts";

const ESP = 50;
const CONFIG = {
  rules: [
    {
      name: "ipsec",
      input: { interface: "in0", group: "239.1.1.50", protocol: "esp" },
      outputs: [{ interface: "out1", group: "239.9.9.50", ttl: 9 }],
    },
    // UDP to the same group still goes to its own rule.
    {
      name: "udp",
      input: { interface: "in0", group: "239.1.1.50", port: 5000 },
      outputs: [{ interface: "out1", group: "239.9.9.51", port: 6000 }],
    },
  ],
};

/** An ESP packet: SPI 0x1234, sequence n, then bytes that stand for encrypted data and ICV. */
function espFrame(n: number): Uint8Array {
  const payload = new Uint8Array(64);
  new DataView(payload.buffer).setUint32(0, 0x1234);
  new DataView(payload.buffer).setUint32(4, n);
  for (let i = 8; i < payload.length; i++) payload[i] = (i * 7 + n) & 0xff;
  return udpFrame({ protocol: ESP, dst: "239.1.1.50", payload, ttl: 20 });
}

Deno.test("an ESP rule relays the IP payload byte for byte with the group, source and TTL rewritten", () => {
  const w = fakeWorker(planFor(CONFIG), { blockCount: 4 });
  const inputs = [espFrame(1), espFrame(2)];
  w.arena.rx[0].fillBlock(0, [...inputs, udpFrame({ dst: "239.1.1.50", dstPort: 5000 })]);
  processBlock(w.state, w.inputs[0]);
  const out = w.arena.tx[0].frames().map((f) => f.bytes);
  assert.equal(out.length, 3);
  for (const [i, f] of out.slice(0, 2).entries()) {
    assert.equal(f[14 + 9], ESP, "still ESP");
    assert.equal(f[14 + 8], 9, "the output's TTL");
    assert.deepEqual([...f.subarray(30, 34)], [239, 9, 9, 50], "the output's group");
    assert.deepEqual([...f.subarray(26, 30)], [10, 0, 1, 1], "the output interface's address");
    assert.equal(onesSum(f, 14, 34), 0xffff, "IPv4 header checksum valid");
    assert.deepEqual(f.subarray(34), inputs[i].subarray(34), "ESP header and data unchanged");
  }
  assert.equal(get16(out[2], 14 + 20 + 2), 6000, "the UDP stream went to its own rule");
  assert.equal(workerCounters(w.state).matched, 3);
});

Deno.test("a protocol no rule relays is counted not_udp, and ESP to a group without an ESP rule too", () => {
  const w = fakeWorker(planFor({ rules: [CONFIG.rules[1]] }), { blockCount: 4 });
  w.arena.rx[0].fillBlock(0, [
    espFrame(1),
    udpFrame({ protocol: 6, dst: "239.1.1.50", payload: 20 }),
  ]);
  processBlock(w.state, w.inputs[0]);
  assert.equal(workerCounters(w.state).drop_not_udp, 2);
  assert.equal(workerCounters(w.state).matched, 0);
});
