/**
 * VLANs on a trunk, specified through the loop on fake rings: a rule
 * matches only frames with exactly its tags (none, `vlan`, or `outer_vlan`
 * then `vlan`), whether the kernel took the outer tag into the ring header
 * or it is still in the frame; an output with `vlan` sends tagged frames.
 */
import assert from "node:assert/strict";
import { TP_STATUS_VLAN_VALID } from "../../ffi/layout.ts";
import { processBlock, processFrames } from "../../src/dataplane/forward_loop.ts";
import { fakeWorker, planFor, workerCounters } from "../helpers/fake_ring.ts";
import { get16, udpFrame } from "../helpers/frames.ts";

const input = { interface: "in0", group: "239.1.1.1", port: 5001 };
const TRUNK = {
  rules: [
    { name: "untagged", input, outputs: [{ interface: "out1", group: "239.9.9.1", port: 6001 }] },
    {
      name: "v100",
      input: { ...input, vlan: 100 },
      outputs: [{ interface: "out1", group: "239.9.9.2", port: 6002 }],
    },
    {
      name: "v200",
      input: { ...input, vlan: 200 },
      outputs: [{ interface: "out1", group: "239.9.9.3", port: 6003 }],
    },
    {
      name: "qinq",
      input: { ...input, outer_vlan: 300, vlan: 100 },
      outputs: [{ interface: "out1", group: "239.9.9.4", port: 6004, vlan: 42 }],
    },
  ],
};

/** Destination ports of what out1's ring received, in order, and each frame's 802.1Q VID (0: untagged). */
function sent(w: ReturnType<typeof fakeWorker>): { port: number; vid: number }[] {
  return w.arena.tx[0].frames().map(({ bytes }) => {
    const tagged = get16(bytes, 12) === 0x8100;
    const ip = tagged ? 18 : 14;
    return { port: get16(bytes, ip + 22), vid: tagged ? get16(bytes, 14) & 0x0fff : 0 };
  });
}

Deno.test("each rule gets exactly the frames of its VLAN; the kernel's stripped tag counts as the outermost", () => {
  const w = fakeWorker(planFor(TRUNK), { blockCount: 4 });
  w.arena.rx[0].fillBlock(0, [
    udpFrame({ id: 1 }), // untagged
    { frame: udpFrame({ id: 2 }), status: TP_STATUS_VLAN_VALID, vlanTci: 100 }, // VID 100, stripped by the kernel
    udpFrame({ id: 3, vlanIds: [200] }), // VID 200, still in the frame
    { frame: udpFrame({ id: 4, vlanIds: [100] }), status: TP_STATUS_VLAN_VALID, vlanTci: 300 }, // QinQ 300/100
    udpFrame({ id: 5, vlanIds: [300, 100] }), // QinQ, both tags in the frame
    udpFrame({ id: 6, vlanIds: [999] }), // a VLAN no rule names
    { frame: udpFrame({ id: 7 }), status: TP_STATUS_VLAN_VALID, vlanTci: 0x2000 }, // priority tag, VID 0: untagged
  ]);
  processBlock(w.state, w.inputs[0]);
  assert.deepEqual(sent(w), [
    { port: 6001, vid: 0 },
    { port: 6002, vid: 0 },
    { port: 6003, vid: 0 },
    { port: 6004, vid: 42 },
    { port: 6004, vid: 42 },
    { port: 6001, vid: 0 },
  ]);
  assert.equal(workerCounters(w.state).drop_no_match, 1, "VLAN 999");
});

Deno.test("frames mode reads the stripped tag from the tpacket2 header", () => {
  const w = fakeWorker(planFor(TRUNK), { frameSize: 2048, blockSize: 65536, blockCount: 1 });
  w.arena.rx[0].fillFrames(0, [
    { frame: udpFrame(), status: TP_STATUS_VLAN_VALID, vlanTci: 200 },
    udpFrame(),
  ]);
  processFrames(w.state, w.inputs[0]);
  assert.deepEqual(sent(w).map((s) => s.port), [6003, 6001]);
});

Deno.test("a tagged output frame carries its 802.1Q tag, and the MTU bounds the frame without it", () => {
  const w = fakeWorker(planFor(TRUNK), { blockCount: 4 });
  // 1472 bytes of payload: a full 1500-byte IP packet; with the tag the frame is 1518 bytes.
  w.arena.rx[0].fillBlock(0, [udpFrame({ vlanIds: [300, 100], payload: 1472 })]);
  processBlock(w.state, w.inputs[0]);
  const [frame] = w.arena.tx[0].frames();
  assert.equal(frame.bytes.length, 1518);
  assert.equal(get16(frame.bytes, 16), 0x0800, "IPv4 after the tag");
  assert.equal(workerCounters(w.state).tx_too_big, 0);
});
