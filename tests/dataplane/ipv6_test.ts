/**
 * The IPv6 data path: parsing (extension headers skipped, fragments, the
 * mandatory UDP checksum), matching ((S,G) before (*,G) over 128-bit
 * addresses), and rewriting for every family pair (6->6, 4->6, 6->4), each
 * output checked by an independent decoder and checksum (tests/helpers).
 * Routed outputs: payloads batched and counted as the kernel took them.
 */
import assert from "node:assert/strict";
import { processBlock } from "../../src/dataplane/forward_loop.ts";
import { LoopState } from "../../src/dataplane/loop_state.ts";
import {
  F_FAMILY,
  F_FRAG,
  F_PORT,
  F_PROTO,
  F_UDP,
  F_UDP_LEN,
  FRAME,
  parseFrame,
  R_BAD_HEADER,
  R_TRUNCATED,
} from "../../src/dataplane/parse.ts";
import type { RoutedPort } from "../../src/dataplane/rule_table.ts";
import { buildTables } from "../../src/dataplane/tables.ts";
import type { InterfaceFacts } from "../../src/supervisor/plan.ts"; // the supervisor's input, built here by hand
import {
  FakeArena,
  FakeKicker,
  fakeLoopState,
  fakeWorker,
  outputCounters,
  planFor,
  TEST_INTERFACES,
  workerCounters,
} from "../helpers/fake_ring.ts";
import { get16, udpFrame, verifyFrame } from "../helpers/frames.ts";
import { decode6, ipv6Bytes, multicastMac6, udp6Frame } from "../helpers/frames6.ts";

function parse(f: Uint8Array, len = f.length): number {
  return parseFrame(new DataView(f.buffer, f.byteOffset, f.byteLength), 0, len);
}

/** The test interfaces with IPv6 addresses (out1: 2001:db8:1::1, in0: 2001:db8::2). */
const V6_INTERFACES: InterfaceFacts[] = TEST_INTERFACES.map((f) => ({
  ...f,
  ipv6: f.name === "out1"
    ? [...ipv6Bytes("2001:db8:1::1")]
    : f.name === "in0"
    ? [...ipv6Bytes("2001:db8::2")]
    : null,
}));

function config(rules: unknown[]) {
  return { rules };
}

Deno.test("parseFrame() reads an IPv6/UDP frame: family, destination port, UDP offset and length", () => {
  const f = udp6Frame({ dstPort: 5005, payload: 100 });
  assert.equal(parse(f), 0);
  assert.equal(FRAME[F_FAMILY], 6);
  assert.equal(FRAME[F_PORT], 5005);
  assert.equal(FRAME[F_UDP], 14 + 40);
  assert.equal(FRAME[F_UDP_LEN], 108);
  assert.equal(FRAME[F_FRAG], 0);
});

Deno.test("parseFrame() skips hop-by-hop, destination-options and routing headers to the UDP header", () => {
  const f = udp6Frame({
    extensions: [{ type: 0 }, { type: 60, lengthUnits: 2 }, { type: 43 }],
    payload: 20,
  });
  assert.equal(parse(f), 0);
  assert.equal(FRAME[F_UDP], 14 + 40 + 8 + 24 + 8);
  assert.equal(FRAME[F_PORT], 5001);
});

Deno.test("parseFrame() behind an 802.1Q tag reads the IPv6 header after the tag", () => {
  assert.equal(parse(udp6Frame({ vlanIds: [7] })), 0);
  assert.equal(FRAME[F_UDP], 18 + 40);
});

Deno.test("parseFrame() drops malformed IPv6: zero UDP checksum, hop-by-hop not first, routing with segments left, jumbogram", () => {
  assert.equal(
    parse(udp6Frame({ udpChecksum: 0 })),
    -R_BAD_HEADER,
    "the UDP checksum is mandatory over IPv6",
  );
  assert.equal(parse(udp6Frame({ extensions: [{ type: 60 }, { type: 0 }] })), -R_BAD_HEADER);
  const routed = udp6Frame({ extensions: [{ type: 43 }] });
  routed[14 + 40 + 3] = 1; // segments left
  assert.equal(parse(routed), -R_BAD_HEADER);
  const jumbo = udp6Frame();
  jumbo[14 + 4] = 0;
  jumbo[14 + 5] = 0;
  assert.equal(parse(jumbo), -R_BAD_HEADER);
  const nine = udp6Frame({ extensions: new Array(9).fill({ type: 60 }) });
  assert.equal(parse(nine), -R_BAD_HEADER, "more than 8 extension headers");
});

Deno.test("parseFrame() takes IPv6 of another protocol (ICMPv6, no next header, TCP, ESP) with its next header in F_PROTO", () => {
  for (const nh of [58, 59, 6, 50]) {
    const f = udp6Frame();
    f[14 + 6] = nh;
    assert.equal(parse(f), 0, `next header ${nh}`);
    assert.equal(FRAME[F_PROTO], nh);
    assert.equal(FRAME[F_UDP], -1);
  }
});

Deno.test("parseFrame() reports an IPv6 frame cut at every length short of its packet as truncated", () => {
  const f = udp6Frame({ extensions: [{ type: 0 }], payload: 16 });
  for (let len = 0; len < f.length; len++) {
    assert.equal(parse(f, len), -R_TRUNCATED, `cut at ${len}`);
  }
});

Deno.test("parseFrame() tells IPv6 first and later fragments apart", () => {
  assert.equal(parse(udp6Frame({ fragment: { offset: 0, more: true } })), 0);
  assert.equal(FRAME[F_FRAG], 1);
  assert.equal(parse(udp6Frame({ fragment: { offset: 64, more: false } })), 0);
  assert.equal(FRAME[F_FRAG], 2);
  assert.equal(FRAME[F_UDP], -1);
  assert.equal(
    parse(udp6Frame({ fragment: { offset: 0, more: false } })),
    0,
    "an atomic fragment is a whole datagram",
  );
  assert.equal(FRAME[F_FRAG], 0);
});

Deno.test("6->6: the relayed frame has 33:33 MAC, the output's addresses, port and hop limit, no extension headers, a valid checksum", () => {
  const w = fakeWorker(planFor(
    config([{
      name: "v6",
      input: { interface: "in0", group: "ff3e::1:1", port: 5001 },
      outputs: [{ interface: "out1", group: "ff3e::9:9", port: 6009, ttl: 9, dscp: 10 }],
    }]),
    V6_INTERFACES,
  ));
  const input = udp6Frame({
    extensions: [{ type: 0 }, { type: 60 }],
    trafficClass: 0x01,
    flowLabel: 0xabcde,
    payload: 300,
  });
  w.arena.rx[0].fillBlock(0, [input]);
  processBlock(w.state, w.inputs[0]);
  const [out] = w.arena.tx[0].frames();
  assert.ok(out, "one frame queued");
  const d = decode6(out.bytes);
  assert.deepEqual(d.problems, []);
  assert.deepEqual(d.dstMac, multicastMac6("ff3e::9:9"));
  assert.deepEqual([...d.dst], [...ipv6Bytes("ff3e::9:9")]);
  assert.deepEqual([...d.src], [...ipv6Bytes("2001:db8:1::1")], "the output interface's address");
  assert.equal(d.dstPort, 6009);
  assert.equal(d.hopLimit, 9);
  assert.equal(d.nextHeader, 17, "extension headers are not carried on");
  assert.equal(d.trafficClass, (10 << 2) | 0x01, "DSCP set, ECN kept");
  assert.equal(d.flowLabel, 0xabcde, "flow label kept");
  assert.equal(d.payload.length, 300);
  assert.ok(d.payload.every((b, i) => b === (i & 0xff)), "payload intact");
  // The verifier itself notices one flipped payload bit.
  const broken = out.bytes.slice();
  broken[broken.length - 1] ^= 1;
  assert.notDeepEqual(decode6(broken).problems, []);
});

Deno.test("4->6 and 6->4: each output is valid for its own family, payload intact", () => {
  const w = fakeWorker(planFor(
    config([
      {
        name: "four-six",
        input: { interface: "in0", group: "239.1.1.1", port: 5001 },
        outputs: [{ interface: "out1", group: "ff3e::4:6", port: 6046 }],
      },
      {
        name: "six-four",
        input: { interface: "in0", group: "ff3e::6:4", port: 5064 },
        outputs: [{ interface: "out1", group: "239.6.4.4", port: 6064, ttl: 3 }],
      },
    ]),
    V6_INTERFACES,
  ));
  const v4in = udpFrame({ dst: "239.1.1.1", dstPort: 5001, payload: 200 });
  const v4none = udpFrame({ dst: "239.1.1.1", dstPort: 5001, payload: 201, udpChecksum: "none" });
  const v6in = udp6Frame({ dst: "ff3e::6:4", dstPort: 5064, payload: 202 });
  w.arena.rx[0].fillBlock(0, [v4in, v4none, v6in]);
  processBlock(w.state, w.inputs[0]);
  const frames = w.arena.tx[0].frames().map((f) => f.bytes);
  assert.equal(frames.length, 3);
  for (const f of frames.slice(0, 2)) {
    const d = decode6(f);
    assert.deepEqual(
      d.problems,
      [],
      "IPv6 output from IPv4 (a sender's missing checksum is computed)",
    );
    assert.deepEqual([...d.dst], [...ipv6Bytes("ff3e::4:6")]);
    assert.equal(d.dstPort, 6046);
  }
  const four = frames[2];
  assert.deepEqual(verifyFrame(four), [], "IPv4 output from IPv6");
  assert.equal(get16(four, 12), 0x0800);
  assert.deepEqual([...four.slice(0, 6)], [0x01, 0x00, 0x5e, 0x06, 0x04, 0x04]);
  assert.equal(four[14 + 8], 3, "TTL");
  assert.equal(get16(four, 14 + 20 + 2), 6064);
  assert.equal(get16(four, 14 + 20 + 4), 8 + 202);
});

Deno.test("IPv6 (S,G) and (*,G) rules on one group: the most specific wins, over all 128 bits", () => {
  const w = fakeWorker(planFor(
    config([
      {
        name: "any",
        input: { interface: "in0", group: "ff3e::5", port: 5005 },
        outputs: [{ interface: "out1", group: "ff3e::a", port: 1 }],
      },
      {
        name: "one",
        input: { interface: "in0", group: "ff3e::5", port: 5005, source: "2001:db8::7" },
        outputs: [{ interface: "out1", group: "ff3e::b", port: 2 }],
      },
      {
        name: "net",
        input: { interface: "in0", group: "ff3e::5", port: 5005, source: "2001:db8::/32" },
        outputs: [{ interface: "out1", group: "ff3e::c", port: 3 }],
      },
    ]),
    V6_INTERFACES,
  ));
  const from = (src: string) => udp6Frame({ dst: "ff3e::5", dstPort: 5005, src });
  w.arena.rx[0].fillBlock(0, [
    from("2001:db8::7"),
    from("2001:db8:ffff::1"),
    from("2001:db9::7"),
    from("3001:db8::7"),
  ]);
  processBlock(w.state, w.inputs[0]);
  const ports = w.arena.tx[0].frames().map((f) => decode6(f.bytes).dstPort);
  assert.deepEqual(ports, [2, 3, 1, 1]);
});

Deno.test("IPv6 fragments: dropped unless the rule allows them; then relayed with their fragment header", () => {
  const rule = (allow: boolean) => [{
    name: "frag",
    input: { interface: "in0", group: "ff3e::1:1", port: 5001 },
    outputs: [{ interface: "out1", group: "ff3e::9:9", port: 6009 }],
    allow_fragments: allow,
  }];
  const first = udp6Frame({ fragment: { offset: 0, more: true, id: 77 }, payload: 64 });
  const later = udp6Frame({ fragment: { offset: 72, more: false, id: 77 }, payload: 64 });
  const off = fakeWorker(planFor(config(rule(false)), V6_INTERFACES));
  off.arena.rx[0].fillBlock(0, [first, later]);
  processBlock(off.state, off.inputs[0]);
  assert.equal(workerCounters(off.state).drop_fragment, 2);
  const on = fakeWorker(planFor(config(rule(true)), V6_INTERFACES));
  on.arena.rx[0].fillBlock(0, [first, later]);
  processBlock(on.state, on.inputs[0]);
  const out = on.arena.tx[0].frames().map((f) => f.bytes);
  assert.equal(out.length, 2);
  for (const f of out) {
    assert.equal(f[14 + 6], 44, "next header: fragment");
    assert.equal(f[14 + 40], 17, "the fragment header names UDP");
    assert.equal(
      new DataView(f.buffer, f.byteOffset).getUint32(14 + 40 + 4),
      77,
      "identification kept",
    );
  }
  assert.equal(get16(out[0], 14 + 48 + 2), 6009, "the first fragment's port is rewritten");
});

Deno.test("a routed output batches payloads and counts what the kernel took, refused, or had no room for", () => {
  const plan = planFor(config([{
    name: "routed",
    input: { interface: "in0", group: "239.1.1.1", port: 5001 },
    outputs: [{ egress: "routed", address: "10.9.0.2", port: 7000 }],
  }]));
  // A fake arena with a spare region for the batch (the worker maps plain memory there).
  const arena = new FakeArena([{ ifindex: 2 }], [{ ifindex: 99, frameSize: 2048, frameCount: 64 }]);
  const batch = arena.tx[0].offset;
  const routedRefs = new Map([[0, {
    fd: 55,
    name: new Uint8Array(16),
    slotSize: 2048,
    slots: 64,
    dataOffset: batch,
  }]]);
  const tables = buildTables(plan, arena.rxRefs(), new Map(), undefined, routedRefs);
  const sent: Uint8Array[][] = [];
  let outcome = { refused: 0, full: 0 };
  const sender = {
    send(port: RoutedPort, result: Int32Array): number {
      const datagrams = [];
      for (let i = 0; i < port.count; i++) {
        datagrams.push(
          arena.bytes.slice(
            port.dataOffset + i * port.slotSize,
            port.dataOffset + i * port.slotSize + port.lengths[i],
          ),
        );
      }
      sent.push(datagrams);
      const took = port.count - outcome.refused - outcome.full;
      result[0] = outcome.refused;
      result[1] = outcome.refused ? 101 : outcome.full ? 11 : 0;
      result[2] = outcome.full;
      result[3] = datagrams.slice(0, took).reduce((n, d) => n + d.length, 0);
      return took;
    },
  };
  const base = fakeLoopState(arena, tables, new FakeKicker(arena));
  const state = new LoopState({ ...base, routedPorts: tables.routedPorts, sender });
  const frames = [0, 1, 2].map((i) =>
    udpFrame({ dst: "239.1.1.1", dstPort: 5001, payload: 100 + i })
  );
  arena.rx[0].fillBlock(0, frames);
  processBlock(state, tables.inputs[0]);
  assert.equal(sent.length, 1, "one send for the block");
  assert.deepEqual(
    sent[0].map((d) => d.length),
    [100, 101, 102],
    "UDP payloads only: the kernel adds headers",
  );
  assert.deepEqual(outputCounters(state, 0), {
    packets: 3,
    bytes: 303,
    ring_full: 0,
    too_big: 0,
    errors: 0,
    ttl_expired: 0,
  });

  outcome = { refused: 1, full: 1 };
  arena.rx[0].fillBlock(1, frames);
  processBlock(state, tables.inputs[0]);
  assert.deepEqual(outputCounters(state, 0), {
    packets: 4,
    bytes: 403,
    ring_full: 1,
    too_big: 0,
    errors: 1,
    ttl_expired: 0,
  });
  let w = workerCounters(state);
  assert.equal(w.routed_batches, 2);
  assert.equal(w.tx_errors, 1);
  assert.equal(w.tx_ring_full, 1);
  assert.equal(w.last_routed_errno, 101);

  // More datagrams in one block than a batch holds: the full batch goes out
  // at once, the rest at the flush, and the port is listed once.
  outcome = { refused: 0, full: 0 };
  sent.length = 0;
  const many = Array.from(
    { length: 100 },
    () => udpFrame({ dst: "239.1.1.1", dstPort: 5001, payload: 10 }),
  );
  arena.rx[0].fillBlock(2, many);
  processBlock(state, tables.inputs[0]);
  assert.deepEqual(sent.map((b) => b.length), [64, 36]);
  assert.equal(state.dirtyRouted.length, 1, "the dirty list never grows past the routed ports");
  assert.equal(state.dirtyRoutedCount, 0);
  w = workerCounters(state);
  assert.equal(w.routed_batches, 4);
  assert.equal(outputCounters(state, 0).packets, 104);
});
