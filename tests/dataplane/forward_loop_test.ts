/**
 * The forwarding loop over a fake arena (tests/helpers/fake_ring.ts): plans
 * made by plan.ts, tables by buildTables(), packets written into TPACKET_V3
 * blocks as the kernel writes them, TX frames read back and checked with the
 * independent verifier. No root, no sockets.
 */
import assert from "node:assert/strict";
import {
  TP3_MAC,
  TP_STATUS_CSUMNOTREADY,
  TP_STATUS_SEND_REQUEST,
  TP_STATUS_SENDING,
  TP_STATUS_VLAN_VALID,
  TP_STATUS_WRONG_FORMAT,
} from "../../ffi/layout.ts";
import { COMMAND_RECONFIGURE, COMMAND_STOP, CONTROL_COMMAND } from "../../src/dataplane/channel.ts";
import { forwardLoop, processBlock, processFrames } from "../../src/dataplane/forward_loop.ts";
import { type Clock, FRAME_BATCH } from "../../src/dataplane/loop_state.ts";
import { NAP_ENTER_FRAMES, NAP_STAY_FRAMES } from "../../src/dataplane/naps.ts";
import { buildTables } from "../../src/dataplane/tables.ts";
import {
  fakeLoopState,
  type FakeWorker,
  fakeWorker,
  outputCounters,
  planFor,
  ruleCounters,
  totalDrops,
  TP_STATUS_BLK_TMO,
  TPACKET3_HDRLEN,
  workerCounters,
} from "../helpers/fake_ring.ts";
import {
  arpFrame,
  decodeFrame,
  edited,
  expectedRewrite,
  fragmentFrame,
  hexDiff,
  IPPROTO_TCP,
  put16,
  reassemble,
  type RewriteSpec,
  udpFrame,
  udpOffset,
  verifyFrame,
} from "../helpers/frames.ts";

const OUT1_MAC = [0x02, 0, 0, 0, 0x01, 0x01];
const OUT2_MAC = [0x02, 0, 0, 0, 0x02, 0x01];

/** One rule: in0 239.1.1.1:5001 -> out1 239.9.9.9:5099 (TTL 7). */
const ONE_OUTPUT = {
  rules: [{
    name: "cam1",
    input: { interface: "in0", group: "239.1.1.1", port: 5001 },
    outputs: [{ interface: "out1", group: "239.9.9.9", port: 5099, ttl: 7 }],
  }],
};
const ONE_OUTPUT_SPEC: RewriteSpec = {
  srcMac: OUT1_MAC,
  src: "10.0.1.1",
  group: "239.9.9.9",
  port: 5099,
  ttl: 7,
};

/** One rule fanned out 1:3 over two TX rings: out1 twice (two groups), out2 once (with DSCP). */
const FAN_OUT = {
  rules: [{
    name: "fan",
    input: { interface: "in0", group: "239.1.1.1", port: 5001 },
    outputs: [
      { interface: "out1", group: "239.9.9.1", port: 6001 },
      { interface: "out2", group: "239.9.9.2", port: 6002, dscp: 10 },
      { interface: "out1", group: "239.9.9.3", port: 6003, ttl: 2 },
    ],
  }],
};
const FAN_OUT_SPECS: RewriteSpec[] = [
  // No ttl set: the input's (udpFrame() sends 32) minus one.
  { srcMac: OUT1_MAC, src: "10.0.1.1", group: "239.9.9.1", port: 6001, ttl: 31 },
  { srcMac: OUT2_MAC, src: "10.0.2.1", group: "239.9.9.2", port: 6002, ttl: 31, dscp: 10 },
  { srcMac: OUT1_MAC, src: "10.0.1.1", group: "239.9.9.3", port: 6003, ttl: 2 },
];

function stream(n: number, opts: Parameters<typeof udpFrame>[0] = {}): Uint8Array[] {
  return Array.from(
    { length: n },
    (_, i) => udpFrame({ id: i, payload: 20 + i, dstPort: 5001, ...opts }),
  );
}

function assertFrame(actual: Uint8Array, expected: Uint8Array, what: string): void {
  const diff = hexDiff(actual, expected);
  assert.equal(diff, "", `${what}\n${diff}`);
}

/** rx_packets == matched + every drop reason (too-big copies are counted per copy: see assertCopiesConserved). */
function assertPacketsConserved(w: FakeWorker): void {
  const c = workerCounters(w.state);
  const packetDrops = totalDrops(w.state);
  assert.equal(
    c.rx_packets,
    c.matched + packetDrops,
    `rx ${c.rx_packets} != matched ${c.matched} + drops ${packetDrops}`,
  );
}

/** Every copy of a matched packet is sent, dropped for a full ring, or too big. */
function assertCopiesConserved(w: FakeWorker, copiesExpected: number): void {
  const c = workerCounters(w.state);
  assert.equal(c.tx_sent + c.tx_ring_full + c.tx_too_big, copiesExpected, JSON.stringify(c));
}

Deno.test("processBlock() rewrites every packet of a block into the next TX frames, marked SEND_REQUEST", () => {
  const w = fakeWorker(planFor(ONE_OUTPUT));
  const inputs = stream(10);
  w.arena.rx[0].fillBlock(0, inputs);
  assert.equal(processBlock(w.state, w.inputs[0]), 1);
  const tx = w.arena.tx[0];
  for (let i = 0; i < 10; i++) {
    assert.equal(tx.status(i), TP_STATUS_SEND_REQUEST, `frame ${i}`);
    const expected = expectedRewrite(inputs[i], ONE_OUTPUT_SPEC);
    assert.equal(tx.length(i), expected.length, `tp_len of frame ${i}`);
    assertFrame(tx.data(i), expected, `frame ${i}`);
    assert.deepEqual(verifyFrame(tx.data(i)), []);
  }
  assert.equal(tx.status(10), 0, "the frame after the last one is untouched");
  assert.equal(w.txPorts[0].head, 10);
  assert.deepEqual(w.arena.checkGuards(), []);
});

Deno.test("processBlock() gives the block back to the kernel and moves to the next block, wrapping around", () => {
  const w = fakeWorker(planFor(ONE_OUTPUT), { blockCount: 3 });
  const rx = w.arena.rx[0];
  for (let round = 0; round < 2; round++) {
    for (let b = 0; b < 3; b++) {
      rx.fillBlock(b, stream(2));
      assert.equal(w.inputs[0].cursor, b);
      assert.equal(processBlock(w.state, w.inputs[0]), 1);
      assert.equal(rx.blockStatus(b), 0, `block ${b} is the kernel's again`);
    }
  }
  assert.equal(w.inputs[0].cursor, 0);
  assert.equal(workerCounters(w.state).rx_blocks, 6);
});

Deno.test("processBlock() returns 0 and touches nothing while the kernel owns the block", () => {
  const w = fakeWorker(planFor(ONE_OUTPUT));
  w.arena.rx[0].fillBlock(1, stream(3)); // block 1 is ready, but the cursor is on block 0
  assert.equal(processBlock(w.state, w.inputs[0]), 0);
  assert.equal(w.inputs[0].cursor, 0);
  assert.equal(w.kicker.submitted.length, 0);
  assert.equal(workerCounters(w.state).rx_packets, 0);
});

Deno.test("processBlock() takes a block retired by its timeout (TP_STATUS_BLK_TMO), even an empty one", () => {
  const w = fakeWorker(planFor(ONE_OUTPUT));
  const rx = w.arena.rx[0];
  rx.fillBlock(0, stream(1), TP_STATUS_BLK_TMO);
  rx.fillBlock(1, [], TP_STATUS_BLK_TMO);
  assert.equal(processBlock(w.state, w.inputs[0]), 1);
  assert.equal(processBlock(w.state, w.inputs[0]), 1);
  assert.equal(rx.blockStatus(0), 0);
  assert.equal(rx.blockStatus(1), 0);
  assert.equal(workerCounters(w.state).rx_packets, 1);
  assert.equal(w.kicker.submitted.length, 1, "no kick for a block that queued nothing");
});

Deno.test("processBlock() kicks once per block, with one submit covering every TX ring it filled", () => {
  const w = fakeWorker(planFor(FAN_OUT));
  w.arena.rx[0].fillBlock(0, stream(5));
  w.arena.rx[0].fillBlock(1, stream(4));
  processBlock(w.state, w.inputs[0]);
  assert.deepEqual(w.kicker.submitted, [[w.arena.tx[0].fd, w.arena.tx[1].fd]]);
  processBlock(w.state, w.inputs[0]);
  assert.equal(w.kicker.submitted.length, 2);
  assert.deepEqual(w.kicker.queued, []);
});

Deno.test("processBlock() fans one packet out 1:3 over two TX rings, each copy rewritten for its output", () => {
  const w = fakeWorker(planFor(FAN_OUT));
  const inputs = stream(5);
  w.arena.rx[0].fillBlock(0, inputs);
  processBlock(w.state, w.inputs[0]);
  const [out1, out2] = w.arena.tx;
  // out1 receives copies for outputs 0 and 2, interleaved packet by packet.
  for (let i = 0; i < 5; i++) {
    assertFrame(
      out1.data(2 * i),
      expectedRewrite(inputs[i], FAN_OUT_SPECS[0]),
      `packet ${i} output 0`,
    );
    assertFrame(
      out1.data(2 * i + 1),
      expectedRewrite(inputs[i], FAN_OUT_SPECS[2]),
      `packet ${i} output 2`,
    );
    assertFrame(out2.data(i), expectedRewrite(inputs[i], FAN_OUT_SPECS[1]), `packet ${i} output 1`);
  }
  assert.equal(out1.frames().length, 10);
  assert.equal(out2.frames().length, 5);
  const c = workerCounters(w.state);
  assert.equal(c.rx_packets, 5);
  assert.equal(c.matched, 5);
  assert.equal(c.tx_sent, 15);
  const sent = [...out1.frames(), ...out2.frames()].reduce((n, f) => n + f.bytes.length, 0);
  assert.equal(c.tx_bytes, sent);
  assert.deepEqual(ruleCounters(w.state, 0), {
    packets: 5,
    bytes: inputs.reduce((n, f) => n + f.length, 0),
    dropped: 0,
  });
  const plan = planFor(FAN_OUT);
  plan.rules[0].outputs.forEach((o, i) => {
    const frames = i === 1
      ? out2.frames()
      : out1.frames().filter((_, k) => k % 2 === (i === 0 ? 0 : 1));
    assert.deepEqual(outputCounters(w.state, o.slot), {
      packets: 5,
      bytes: frames.reduce((n, f) => n + f.bytes.length, 0),
      ring_full: 0,
      too_big: 0,
      errors: 0,
      ttl_expired: 0,
    }, `output ${i}`);
  });
  assertCopiesConserved(w, 15);
});

Deno.test("processBlock() counts every packet once: matched or under exactly one drop reason", () => {
  const config = {
    rules: [
      {
        name: "a",
        input: { interface: "in0", group: "239.1.1.1", port: 5001 },
        outputs: [{ interface: "out1", group: "239.9.9.9", port: 5099 }],
      },
    ],
  };
  const w = fakeWorker(planFor(config));
  const good = udpFrame({ payload: 30 });
  const block = [
    good,
    good,
    udpFrame({ dstPort: 5002 }), // no_match: other port
    udpFrame({ dst: "239.1.1.2" }), // no_match: other group
    arpFrame(), // not_ip
    good.subarray(0, 40), // truncated
    udpFrame({ protocol: IPPROTO_TCP, payload: 20 }), // not_udp
    edited(good, (b, ip) => b[ip + 8] ^= 1), // bad_header: header checksum wrong
    edited(good, (b) => put16(b, udpOffset(b) + 4, 200)), // bad_header: UDP length lies
    udpFrame({ moreFragments: true, payload: 64 }), // fragment: first fragment, rule does not allow
    udpFrame({ fragmentOffset: 10, payload: 64 }), // fragment: later fragment, no fragment rule
  ];
  w.arena.rx[0].fillBlock(0, block);
  processBlock(w.state, w.inputs[0]);
  const c = workerCounters(w.state);
  assert.equal(c.rx_packets, block.length);
  assert.equal(c.rx_bytes, block.reduce((n, f) => n + f.length, 0));
  assert.equal(c.matched, 2);
  assert.equal(c.tx_sent, 2);
  assert.deepEqual(
    [
      c.drop_no_match,
      c.drop_not_ip,
      c.drop_truncated,
      c.drop_not_udp,
      c.drop_bad_header,
      c.drop_fragment,
    ],
    [2, 1, 1, 1, 2, 2],
  );
  assert.equal(c.drop_ring_corrupt + c.tx_too_big, 0);
  assertPacketsConserved(w);
});

Deno.test("processBlock() keeps traffic of one input away from rules of another", () => {
  const config = {
    rules: [
      {
        name: "a",
        input: { interface: "in0", group: "239.1.1.1", port: 5001 },
        outputs: [{ interface: "out1", group: "239.9.9.9", port: 5099 }],
      },
      {
        name: "b",
        input: { interface: "in1", group: "239.1.1.2", port: 5001 },
        outputs: [{ interface: "out1", group: "239.9.9.8", port: 5099 }],
      },
    ],
  };
  const w = fakeWorker(planFor(config));
  assert.deepEqual(w.inputs.map((i) => i.ifindex), [2, 6]);
  w.arena.rx[1].fillBlock(0, [udpFrame({ dst: "239.1.1.1" }), udpFrame({ dst: "239.1.1.2" })]);
  processBlock(w.state, w.inputs[1]);
  const c = workerCounters(w.state);
  assert.equal(c.matched, 1);
  assert.equal(c.drop_no_match, 1);
  assert.equal(decodeFrame(w.arena.tx[0].data(0)).ip?.dst, "239.9.9.8");
});

Deno.test("processBlock() relays both fragments of a datagram for a rule that allows them; the datagram still verifies", () => {
  const config = {
    rules: [{
      name: "frag",
      input: { interface: "in0", group: "239.1.1.1", port: 5001 },
      outputs: [{ interface: "out1", group: "239.9.9.9", port: 5099, ttl: 9 }],
      allow_fragments: true,
    }],
  };
  const w = fakeWorker(planFor(config));
  const whole = udpFrame({ payload: 300, src: "10.0.0.1" });
  const [first, later] = fragmentFrame(whole, 160);
  w.arena.rx[0].fillBlock(0, [first, later]);
  processBlock(w.state, w.inputs[0]);
  const out = w.arena.tx[0].frames().map((f) => f.bytes);
  assert.equal(out.length, 2);
  for (const f of out) assert.deepEqual(verifyFrame(f), [], "each fragment's IPv4 header verifies");
  assert.equal(
    decodeFrame(out[1]).ip?.dst,
    "239.9.9.9",
    "the later fragment carries the new group",
  );
  assert.deepEqual(
    decodeFrame(out[1]).payload,
    decodeFrame(later).payload,
    "no UDP rewrite inside a later fragment",
  );
  const datagram = reassemble(out);
  assert.deepEqual(verifyFrame(datagram), [], "the reassembled datagram's UDP checksum verifies");
  assertFrame(
    datagram,
    expectedRewrite(whole, { ...ONE_OUTPUT_SPEC, ttl: 9 }),
    "reassembled output",
  );
});

Deno.test("processBlock() finishes checksums of packets flagged TP_STATUS_CSUMNOTREADY", () => {
  const w = fakeWorker(planFor(ONE_OUTPUT));
  const partial = stream(3, { udpChecksum: "partial" });
  w.arena.rx[0].fillBlock(
    0,
    partial.map((frame) => ({ frame, status: TP_STATUS_CSUMNOTREADY | TP_STATUS_VLAN_VALID })),
  );
  processBlock(w.state, w.inputs[0]);
  w.arena.tx[0].frames().forEach((f, i) => {
    assert.deepEqual(verifyFrame(f.bytes), [], `frame ${i}`);
    assertFrame(f.bytes, expectedRewrite(partial[i], ONE_OUTPUT_SPEC), `frame ${i}`);
  });
  assert.equal(workerCounters(w.state).tx_sent, 3);
});

Deno.test("processBlock() reads nothing past a first fragment's bytes, even one flagged TP_STATUS_CSUMNOTREADY", () => {
  // A first fragment's UDP length covers the whole datagram (3000 bytes here),
  // far past the 92 bytes captured. Whatever follows the frame in the block
  // must not change the output.
  const config = {
    rules: [{
      name: "frag",
      input: { interface: "in0", group: "239.1.1.1", port: 5001 },
      outputs: [{ interface: "out1", group: "239.9.9.9", port: 5099 }],
      allow_fragments: true,
    }],
  };
  const first = udpFrame({
    moreFragments: true,
    payload: 64,
    udpChecksum: "partial",
    udpLength: 3000,
  });
  const outputs = [0x00, 0x5a].map((junk) => {
    const w = fakeWorker(planFor(config));
    const rx = w.arena.rx[0];
    const [pkt] = rx.fillBlock(0, [{ frame: first, status: TP_STATUS_CSUMNOTREADY }]);
    const end = pkt + w.arena.view.getUint16(pkt + TP3_MAC, true) + first.length;
    w.arena.bytes.fill(junk, end, rx.blockOffset(1));
    processBlock(w.state, w.inputs[0]);
    assert.equal(workerCounters(w.state).tx_sent, 1);
    return w.arena.tx[0].data(0);
  });
  assertFrame(outputs[1], outputs[0], "output with other bytes after the frame");
});

Deno.test("processBlock() counts copies that find the TX ring full and never overwrites a queued frame", () => {
  const w = fakeWorker(planFor(ONE_OUTPUT), { txFrames: 8 });
  const inputs = stream(12);
  w.arena.rx[0].fillBlock(0, inputs);
  processBlock(w.state, w.inputs[0]);
  const tx = w.arena.tx[0];
  assert.equal(tx.frames().length, 8);
  for (let i = 0; i < 8; i++) {
    assertFrame(
      tx.data(i),
      expectedRewrite(inputs[i], ONE_OUTPUT_SPEC),
      `frame ${i} keeps packet ${i}`,
    );
  }
  const c = workerCounters(w.state);
  assert.equal(c.tx_sent, 8);
  assert.equal(c.tx_ring_full, 4);
  assert.equal(c.matched, 12, "a packet whose copies were all dropped still matched");
  const slot = planFor(ONE_OUTPUT).rules[0].outputs[0].slot;
  assert.equal(outputCounters(w.state, slot).ring_full, 4);
  assert.deepEqual(
    w.kicker.submitted,
    [[tx.fd]],
    "one kick when the ring filled, none after (nothing new queued)",
  );
  assertPacketsConserved(w);
  assertCopiesConserved(w, 12);
});

Deno.test("processBlock() kicks a full TX ring once and continues when the kernel frees it", () => {
  const w = fakeWorker(planFor(ONE_OUTPUT), { txFrames: 8, kicker: { send: true, record: true } });
  const inputs = stream(12);
  w.arena.rx[0].fillBlock(0, inputs);
  processBlock(w.state, w.inputs[0]);
  const c = workerCounters(w.state);
  assert.equal(c.tx_ring_full, 0);
  assert.equal(c.tx_sent, 12);
  assert.equal(w.kicker.submitted.length, 2, "one kick when full, one at the end of the block");
  assert.equal(w.kicker.sent.length, 12);
  w.kicker.sent.forEach((f, i) =>
    assertFrame(f, expectedRewrite(inputs[i], ONE_OUTPUT_SPEC), `sent ${i}`)
  );
});

Deno.test("processBlock() does not reuse a TX frame the kernel is still sending", () => {
  const w = fakeWorker(planFor(ONE_OUTPUT), { txFrames: 8 });
  const tx = w.arena.tx[0];
  tx.setStatus(0, TP_STATUS_SENDING);
  w.arena.rx[0].fillBlock(0, stream(1));
  processBlock(w.state, w.inputs[0]);
  assert.equal(tx.status(0), TP_STATUS_SENDING);
  assert.equal(workerCounters(w.state).tx_ring_full, 1);
  assert.equal(w.txPorts[0].head, 0, "the head waits at the busy frame");
});

Deno.test("processBlock() reclaims a TX frame the kernel rejected (WRONG_FORMAT) and counts a tx error", () => {
  const w = fakeWorker(planFor(ONE_OUTPUT), { txFrames: 8 });
  const tx = w.arena.tx[0];
  tx.setStatus(0, TP_STATUS_WRONG_FORMAT);
  tx.setStatus(1, TP_STATUS_WRONG_FORMAT);
  const inputs = stream(3);
  w.arena.rx[0].fillBlock(0, inputs);
  processBlock(w.state, w.inputs[0]);
  for (let i = 0; i < 3; i++) {
    assert.equal(tx.status(i), TP_STATUS_SEND_REQUEST);
    assertFrame(tx.data(i), expectedRewrite(inputs[i], ONE_OUTPUT_SPEC), `frame ${i}`);
  }
  const c = workerCounters(w.state);
  assert.equal(c.tx_errors, 2);
  assert.equal(c.tx_sent, 3);
});

Deno.test("processBlock() drops a copy larger than its output's MTU as too_big and still sends the others", () => {
  const config = {
    rules: [{
      name: "mixed",
      input: { interface: "in0", group: "239.1.1.1", port: 5001 },
      outputs: [
        { interface: "small", group: "239.9.9.1", port: 6001 },
        { interface: "out1", group: "239.9.9.2", port: 6002 },
      ],
    }],
  };
  const plan = planFor(config);
  const w = fakeWorker(plan);
  const big = udpFrame({ payload: 1000 }); // 1028-byte IP packet: over MTU 576, under 1500
  const fits = udpFrame({ payload: 576 - 28 }); // exactly MTU 576
  w.arena.rx[0].fillBlock(0, [big, fits]);
  processBlock(w.state, w.inputs[0]);
  const [small, out1] = plan.rules[0].outputs.map((o) => outputCounters(w.state, o.slot));
  assert.equal(small.too_big, 1);
  assert.equal(small.packets, 1);
  assert.equal(out1.packets, 2);
  const c = workerCounters(w.state);
  assert.equal(c.tx_too_big, 1);
  assert.equal(c.matched, 2);
  assert.equal(decodeFrame(w.arena.tx.find((t) => t.ifindex === 5)!.data(0)).ip?.totalLength, 576);
  assertPacketsConserved(w);
  assertCopiesConserved(w, 4);
});

Deno.test("processBlock() counts a corrupt RX entry and the rest of its block as ring_corrupt, reading nothing outside", () => {
  const w = fakeWorker(planFor(ONE_OUTPUT));
  const rx = w.arena.rx[0];
  const headers = rx.fillBlock(0, stream(4));
  // Packet 2 claims its frame starts 64 KiB after its header: past the end of the 64 KiB block.
  w.arena.view.setUint16(headers[1] + TP3_MAC, 0xffff, true);
  processBlock(w.state, w.inputs[0]);
  const c = workerCounters(w.state);
  assert.equal(c.tx_sent, 1, "the packet before the corrupt entry is forwarded");
  assert.equal(c.drop_ring_corrupt, 3, "the corrupt entry and the two after it");
  assert.equal(c.rx_packets, 4, "num_pkts entries were taken from the ring");
  assert.equal(rx.blockStatus(0), 0, "the block is given back");
  assertPacketsConserved(w);
});

Deno.test("processBlock() puts packets where the kernel does: network header 16-byte aligned after TPACKET3_HDRLEN", () => {
  const tagged = {
    ...ONE_OUTPUT,
    rules: [{
      ...ONE_OUTPUT.rules[0],
      name: "v9",
      input: { ...ONE_OUTPUT.rules[0].input, vlan: 9 },
    }],
  };
  const w = fakeWorker(planFor({ rules: [...ONE_OUTPUT.rules, ...tagged.rules] }));
  const headers = w.arena.rx[0].fillBlock(0, [udpFrame(), udpFrame({ vlanIds: [9] })]);
  assert.equal(w.arena.view.getUint16(headers[0] + TP3_MAC, true), 96 - 14);
  assert.equal(w.arena.view.getUint16(headers[1] + TP3_MAC, true), 96 - 18);
  assert.equal(Math.ceil((TPACKET3_HDRLEN + 16) / 16) * 16, 96, "TPACKET_ALIGN(68 + 16)");
  processBlock(w.state, w.inputs[0]);
  assert.equal(
    workerCounters(w.state).tx_sent,
    2,
    "the untagged frame by one rule, the tagged one by the VLAN 9 rule",
  );
});

Deno.test("forwardLoop() takes ready blocks from every input in turn until idle, then returns the stop command", () => {
  const config = {
    rules: [
      {
        name: "a",
        input: { interface: "in0", group: "239.1.1.1", port: 5001 },
        outputs: [{ interface: "out1", group: "239.9.9.9", port: 5099 }],
      },
      {
        name: "b",
        input: { interface: "in1", group: "239.1.1.1", port: 5001 },
        outputs: [{ interface: "out2", group: "239.9.9.9", port: 5099 }],
      },
    ],
  };
  const w = fakeWorker(planFor(config), { blockCount: 4 });
  const kicker = w.kicker;
  kicker.options.stopOnWait = w.state.control;
  for (let b = 0; b < 3; b++) w.arena.rx[0].fillBlock(b, stream(2));
  w.arena.rx[1].fillBlock(0, stream(5));
  assert.equal(forwardLoop(w.state, 10), COMMAND_STOP);
  const c = workerCounters(w.state);
  assert.equal(c.rx_blocks, 4);
  assert.equal(c.rx_packets, 11);
  assert.equal(c.tx_sent, 11);
  assert.equal(kicker.waits, 1, "waited once, when no block was ready");
  assert.equal(c.loop_iterations, 4, "three busy turns and the idle one");
  assert.equal(kicker.submitCount, 4, "each of the four batches kicked TX at its end");
  assert.equal(kicker.kicksWithWait, 0, "nothing was left queued for the wait");
  assert.ok(c.heartbeat_ms > 0);
  assert.deepEqual(w.inputs.map((i) => i.cursor), [3, 1]);
});

Deno.test("forwardLoop() returns a pending command before touching any block, flushing queued frames", () => {
  const w = fakeWorker(planFor(ONE_OUTPUT));
  w.arena.rx[0].fillBlock(0, stream(2));
  Atomics.store(w.state.control, CONTROL_COMMAND, COMMAND_RECONFIGURE);
  assert.equal(forwardLoop(w.state, 10), COMMAND_RECONFIGURE);
  assert.equal(workerCounters(w.state).rx_packets, 0);
  assert.equal(
    w.arena.rx[0].blockStatus(0) & 1,
    1,
    "the block stays with user space for the next loop",
  );
});

Deno.test("buildTables() keeps the RX cursor and TX head of rings that stay open across plans", () => {
  const plan = planFor(ONE_OUTPUT);
  const w = fakeWorker(plan, { blockCount: 4 });
  w.arena.rx[0].fillBlock(0, stream(3));
  processBlock(w.state, w.inputs[0]);
  const next = buildTables(plan, w.arena.rxRefs(), w.arena.txRefs(), {
    inputs: w.inputs,
    txPorts: w.txPorts,
  });
  assert.equal(next.inputs[0].cursor, 1);
  assert.equal(next.txPorts[0].head, 3);
  const state = fakeLoopState(w.arena, next, w.kicker);
  w.arena.rx[0].fillBlock(1, stream(1, { payload: 99 }));
  processBlock(state, next.inputs[0]);
  assert.equal(
    decodeFrame(w.arena.tx[0].data(3)).payload?.length,
    99,
    "the next frame follows the kept head",
  );
});

Deno.test("buildTables() starts a re-created ring at block 0 and frame 0, even when the kernel reuses its fd number", () => {
  const plan = planFor(ONE_OUTPUT);
  const w = fakeWorker(plan, { blockCount: 4 });
  w.arena.rx[0].fillBlock(0, stream(3));
  processBlock(w.state, w.inputs[0]);
  // The same fd numbers, new rings (ids differ): nothing is inherited.
  const rx = new Map([...w.arena.rxRefs()].map(([k, v]) => [k, { ...v, id: v.id + 1000 }]));
  const tx = new Map([...w.arena.txRefs()].map(([k, v]) => [k, { ...v, id: v.id + 1000 }]));
  const next = buildTables(plan, rx, tx, { inputs: w.inputs, txPorts: w.txPorts });
  assert.equal(next.inputs[0].fd, w.inputs[0].fd);
  assert.equal(next.inputs[0].cursor, 0, "a new RX ring starts where the kernel starts");
  assert.equal(
    next.txPorts[0].head,
    0,
    "a new TX ring is written from frame 0, never past its end",
  );
});

Deno.test("buildTables() reuses the loop objects of unchanged rule plans, and rebuilds those whose TX ring changed", () => {
  const plan = planFor(FAN_OUT);
  const w = fakeWorker(plan, { blockCount: 4 });
  const cache = new Map();
  const rx = w.arena.rxRefs();
  const tx = w.arena.txRefs();
  const first = buildTables(
    plan,
    rx,
    tx,
    { inputs: w.inputs, txPorts: w.txPorts },
    new Map(),
    cache,
  );
  const again = buildTables(plan, rx, tx, first, new Map(), cache);
  assert.deepEqual(again.txPorts, first.txPorts);
  assert.equal(
    again.txPorts[0],
    first.txPorts[0],
    "a TX port whose ring and MTU stay is the same object",
  );
  const rulesOf = (t: typeof first) => [...t.inputs[0].rules.values()];
  assert.equal(rulesOf(again)[0], rulesOf(first)[0], "an unchanged rule plan: the same Rule");
  // A re-created TX ring: every rule sending on it is rebuilt onto the new port.
  const newTx = new Map([...tx].map(([k, v]) => [k, { ...v, id: v.id + 1000 }]));
  const rebuilt = buildTables(plan, rx, newTx, again, new Map(), cache);
  assert.notEqual(rulesOf(rebuilt)[0], rulesOf(again)[0]);
  for (const r of rulesOf(rebuilt)) {
    for (const o of r.outputs) {
      assert.ok(rebuilt.txPorts.includes(o.tx!), "outputs point at the ports in force");
    }
  }
  assert.equal(
    cache.size,
    plan.rules.length,
    "the cache holds only the rules of the plan in force",
  );
});

// ---- frames mode (TPACKET_V2 RX ring) -----------------------------------------

Deno.test("processFrames() forwards every ready frame in one batch, hands each frame back, and flushes TX once", () => {
  const w = fakeWorker(planFor(ONE_OUTPUT), { frameSize: 2048, blockSize: 65536, blockCount: 1 });
  const rx = w.arena.rx[0];
  assert.equal(w.inputs[0].frames, true);
  const inputs = stream(10);
  rx.fillFrames(0, inputs);
  const kicksBefore = w.kicker.submitCount;
  assert.equal(processFrames(w.state, w.inputs[0]), 1);
  const tx = w.arena.tx[0];
  for (let i = 0; i < 10; i++) {
    assert.equal(rx.frameStatus(i), 0, `RX frame ${i} is the kernel's again`);
    assert.equal(tx.status(i), TP_STATUS_SEND_REQUEST, `TX frame ${i}`);
    assertFrame(tx.data(i), expectedRewrite(inputs[i], ONE_OUTPUT_SPEC), `frame ${i}`);
  }
  assert.equal(w.kicker.submitCount - kicksBefore, 1, "one flush for the batch");
  assert.equal(w.inputs[0].cursor, 10);
  assert.equal(processFrames(w.state, w.inputs[0]), 0, "nothing more is ready");
  assertPacketsConserved(w);
  assert.deepEqual(w.arena.checkGuards(), []);
});

Deno.test("processFrames() wraps around the ring and stops at FRAME_BATCH so other inputs get their turn", () => {
  const w = fakeWorker(planFor(ONE_OUTPUT), {
    frameSize: 2048,
    blockSize: 65536,
    blockCount: 16,
    txFrames: 1024,
  });
  const rx = w.arena.rx[0];
  const frames = rx.frameCount; // 512
  w.inputs[0].cursor = frames - 3;
  rx.fillFrames(frames - 3, stream(FRAME_BATCH + 10));
  assert.equal(processFrames(w.state, w.inputs[0]), 1);
  assert.equal(workerCounters(w.state).rx_packets, FRAME_BATCH, "one batch at most");
  assert.equal(w.inputs[0].cursor, FRAME_BATCH - 3, "wrapped past the end");
  assert.equal(processFrames(w.state, w.inputs[0]), 1);
  assert.equal(workerCounters(w.state).rx_packets, FRAME_BATCH + 10);
  assertPacketsConserved(w);
});

Deno.test("processFrames() counts a frame whose header points outside its slot as ring_corrupt and never reads it", () => {
  const w = fakeWorker(planFor(ONE_OUTPUT), { frameSize: 2048, blockSize: 65536, blockCount: 1 });
  const rx = w.arena.rx[0];
  rx.fillFrames(0, stream(3));
  const view = w.arena.view;
  view.setUint32(rx.offset + 2048 + 8, 5000, true); // frame 1: snaplen past its slot
  view.setUint16(rx.offset + 2 * 2048 + 12, 4, true); // frame 2: data inside its own header
  processFrames(w.state, w.inputs[0]);
  const c = workerCounters(w.state);
  assert.equal(c.drop_ring_corrupt, 2);
  assert.equal(c.tx_sent, 1);
  assertPacketsConserved(w);
  assert.deepEqual(w.arena.checkGuards(), []);
});

Deno.test("processFrames() records each matched frame's residence, receive time to the batch's TX kick, in the worker histogram", async () => {
  const { fakeLoopState } = await import("../helpers/fake_ring.ts");
  const { RESIDENCE_BUCKETS_US, RESIDENCE_COUNT_SLOT, RESIDENCE_SLOT_BASE, RESIDENCE_SUM_SLOT } =
    await import(
      "../../src/stats/registry.ts"
    );
  const w = fakeWorker(planFor(ONE_OUTPUT), { frameSize: 2048, blockSize: 65536, blockCount: 1 });
  const now = 1_764_000_000_000_000; // µs since the epoch
  const state = fakeLoopState(w.arena, { inputs: w.inputs, txPorts: w.txPorts }, w.kicker, {
    clock: { read: (into) => into[0] = now },
  });
  const rx = w.arena.rx[0];
  // A delay injected in the ring: 4 frames received 3 ms before the kick, 2 received 20 µs before,
  // and one that matches no rule (not timed).
  let at = rx.fillFrames(0, stream(4), now - 3000);
  at = rx.fillFrames(at, stream(2), now - 20);
  rx.fillFrames(at, [udpFrame({ dstPort: 9999 })], now - 3000);
  processFrames(state, w.inputs[0]);
  const wc = state.workerCounters;
  const bucket = (us: number) =>
    wc[RESIDENCE_SLOT_BASE + RESIDENCE_BUCKETS_US.indexOf(us as never)];
  assert.equal(bucket(5000), 4, "3 ms lands in the 2.5-5 ms bucket");
  assert.equal(bucket(25), 2, "20 µs lands in the 10-25 µs bucket");
  assert.equal(wc[RESIDENCE_COUNT_SLOT], 6);
  assert.ok(
    Math.abs(wc[RESIDENCE_SUM_SLOT] - (4 * 3000 + 2 * 20)) < 0.01,
    `sum ${wc[RESIDENCE_SUM_SLOT]}`,
  );
});

// ---- adaptive wake-ups (napUs) ----------------------------------------------------

/** A clock that moves 2 µs per reading, from an arbitrary start. */
function steppingClock(): Clock & { us: number } {
  const c = {
    us: 1_000_000,
    read(into: Float64Array) {
      c.us += 2;
      into[0] = c.us;
    },
  };
  return c;
}

Deno.test("forwardLoop() counts what its naps took, measured, not what they asked: a host that wakes the loop late shows", () => {
  const clock = steppingClock();
  const w = fakeWorker(planFor(ONE_OUTPUT), {
    frameSize: 2048,
    blockSize: 65536,
    blockCount: 4,
    txFrames: 256,
    napUs: 50,
    clock,
  });
  const rx = w.arena.rx[0];
  w.kicker.options.stopOnWait = w.state.control;
  let at = NAP_ENTER_FRAMES;
  w.kicker.options.onNap = (n) => {
    clock.us += 97; // each nap ends 97 µs later, whatever it asked
    if (n > 2) return;
    rx.fillFrames(at, stream(NAP_STAY_FRAMES));
    at += NAP_STAY_FRAMES;
  };
  rx.fillFrames(0, stream(NAP_ENTER_FRAMES));
  assert.equal(forwardLoop(w.state, 10), COMMAND_STOP);
  const c = workerCounters(w.state);
  assert.equal(c.loop_naps, 3);
  for (const us of w.kicker.naps) assert.ok(us <= 50, `asked ${us} µs`);
  assert.equal(c.loop_nap_us, 3 * (97 + 2), "97 µs each, plus the clock's own step");
});

function frameWorker(napUs: number) {
  return fakeWorker(planFor(ONE_OUTPUT), {
    frameSize: 2048,
    blockSize: 65536,
    blockCount: 4,
    txFrames: 256,
    napUs,
    clock: steppingClock(),
  });
}

/**
 * Packets one at a time, spacingUs apart, each waking the loop (the clock moves to the next
 * packet during the wait), for `count` packets. A nap lasts what it asked plus lateUs (its
 * kicks and the host's timer: about 50 µs on the 2-CPU VM) and brings the packets of that time.
 */
function spacedPackets(
  w: ReturnType<typeof frameWorker>,
  spacingUs: number,
  count: number,
  lateUs = 50,
) {
  const clock = w.state.clock as Clock & { us: number };
  const rx = w.arena.rx[0];
  let sent = 0;
  let due = 0; // packets due by the clock, fractions carried
  const arrive = (us: number) => {
    due += us / spacingUs;
    for (; sent < Math.floor(due) && sent < count; sent++) {
      rx.fillFrames(sent % rx.frameCount, stream(1));
    }
  };
  w.kicker.options.send = true; // the emulated kernel frees the TX frames it sends
  w.kicker.options.stopOnWait = w.state.control;
  w.kicker.options.onWait = () => {
    if (sent >= count) return false;
    clock.us += spacingUs;
    due = Math.floor(due);
    arrive(spacingUs);
    return true;
  };
  w.kicker.options.onNap = () => {
    const us = w.kicker.naps.at(-1)! + lateUs;
    clock.us += us;
    arrive(us);
  };
  return () => sent;
}

Deno.test("forwardLoop() with napUs is woken per packet while turns take few frames: no nap, each batch kicked at once", () => {
  const w = frameWorker(50);
  w.kicker.options.stopOnWait = w.state.control;
  w.arena.rx[0].fillFrames(0, stream(NAP_ENTER_FRAMES - 1));
  assert.equal(forwardLoop(w.state, 10), COMMAND_STOP);
  assert.deepEqual(w.kicker.naps, []);
  assert.equal(w.kicker.submitCount, 1);
  assert.equal(w.kicker.waits, 1);
  assert.equal(workerCounters(w.state).tx_sent, NAP_ENTER_FRAMES - 1);
});

Deno.test("forwardLoop() naps once a turn takes NAP_ENTER_FRAMES frames: each nap sends the batch's kicks and lasts at most napUs; a nap that brings fewer than NAP_STAY_FRAMES goes back to a wake-up per packet", () => {
  const w = frameWorker(50);
  const rx = w.arena.rx[0];
  w.kicker.options.stopOnWait = w.state.control;
  // Packets that arrive during the naps: enough to stay napping twice, then too few.
  const during = [NAP_STAY_FRAMES, NAP_STAY_FRAMES + 1, NAP_STAY_FRAMES - 1];
  let at = NAP_ENTER_FRAMES;
  w.kicker.options.onNap = (n) => {
    if (n > during.length) return;
    rx.fillFrames(at, stream(during[n - 1]));
    at += during[n - 1];
  };
  rx.fillFrames(0, stream(NAP_ENTER_FRAMES));
  assert.equal(forwardLoop(w.state, 10), COMMAND_STOP);
  const c = workerCounters(w.state);
  assert.equal(c.tx_sent, at, "every packet forwarded");
  assert.equal(w.kicker.naps.length, 3, "after the first batch and the two that kept it napping");
  for (const us of w.kicker.naps) assert.ok(us > 0 && us <= 50, `nap of ${us} µs`);
  assert.equal(c.loop_naps, 3);
  // The clock's reading around each nap (2 µs a reading, no reading in the nap): 2 µs each.
  assert.equal(c.loop_nap_us, 3 * 2);
  // The first batch was kicked at once (napping began after it); the next two by their naps;
  // the last, too small to stay napping, by a kick of its own.
  assert.equal(w.kicker.kicksWithNap, 2);
  assert.equal(w.kicker.waits, 1, "then it waited for a packet");
  // Every TX frame queued was kicked: none is left waiting for a kick that never comes.
  assert.deepEqual(w.kicker.queued, []);
});

Deno.test("forwardLoop() with napUs 50 stays woken per packet for packets 50 µs apart (20k pps): naps would cost more", () => {
  const w = frameWorker(50);
  const sent = spacedPackets(w, 50, 400);
  assert.equal(forwardLoop(w.state, 10), COMMAND_STOP);
  assert.equal(sent(), 400);
  assert.deepEqual(w.kicker.naps, []);
  assert.equal(workerCounters(w.state).tx_sent, 400);
  assert.equal(w.kicker.submitCount, 400, "each packet kicked by its own turn");
});

Deno.test("forwardLoop() stops napping while a predecessor retires: each turn's kicks go with that turn, while packets keep coming", () => {
  const w = frameWorker(50);
  const rx = w.arena.rx[0];
  w.kicker.options.stopOnWait = w.state.control;
  let at = NAP_ENTER_FRAMES;
  w.kicker.options.onNap = (n) => {
    if (n > 1) return;
    // A cut begins during the first nap (no input is a predecessor here: it never ends).
    w.state.retiring = 1;
    at = rx.fillFrames(at, stream(5));
  };
  // While it retires, 5 more packets arrive during each of the next turns' kicks (three turns).
  let busyTurns = 0;
  w.kicker.options.onQueueKick = () => {
    if (w.state.retiring === 0 || ++busyTurns > 3) return;
    at = rx.fillFrames(at, stream(5));
  };
  rx.fillFrames(0, stream(NAP_ENTER_FRAMES));
  assert.equal(forwardLoop(w.state, 10), COMMAND_STOP);
  assert.equal(w.kicker.naps.length, 1, "no nap once the predecessor retires");
  // The backlog's kick, then one submit per turn while it retires (four turns of 5 packets),
  // each carrying that turn's kick: none waits for a later turn.
  assert.deepEqual(w.kicker.submitted.map((fds) => fds.length), [1, 1, 1, 1, 1]);
  assert.equal(workerCounters(w.state).tx_sent, NAP_ENTER_FRAMES + 20);
  assert.deepEqual(w.kicker.queued, []);
});

Deno.test("forwardLoop() without napUs never naps, however many frames a turn takes", () => {
  const w = frameWorker(0);
  w.kicker.options.stopOnWait = w.state.control;
  w.arena.rx[0].fillFrames(0, stream(40));
  assert.equal(forwardLoop(w.state, 10), COMMAND_STOP);
  assert.deepEqual(w.kicker.naps, []);
  assert.equal(workerCounters(w.state).tx_sent, 40);
});
