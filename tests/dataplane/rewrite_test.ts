/**
 * rewriteInto(): golden frames (tests/fixtures/frames/<name>.in.hex ->
 * <name>.out.hex, reported as a hexdump diff on mismatch) and a property
 * over random frames and outputs, checked against the independent model
 * and verifier in tests/helpers/frames.ts.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { F_SRC, F_UDP, F_UDP_LEN, FRAME, parseFrame } from "../../src/dataplane/parse.ts";
import { finishPartialChecksum, rewriteInto, sourceDelta } from "../../src/dataplane/rewrite.ts";
import { EGRESS_L2, Output, TxPort } from "../../src/dataplane/rule_table.ts";
import { multicastMac, parseIp } from "../../src/net/address.ts";
import {
  arbRewriteSpec,
  arbUdpFrameOptions,
  decodeFrame,
  expectedRewrite,
  get16,
  hexDiff,
  ipOffset,
  ipv4,
  readFixture,
  type RewriteSpec,
  udpFrame,
  udpOffset,
  verifyFrame,
} from "../helpers/frames.ts";

const RX_AT = 100; // where the input frame sits in the test buffer
const TX_AT = 2100; // where the output is written (past any input)

/** An Output as tables.ts builds it, for a rule listening on the input's group and port. */
function outputFor(
  spec: RewriteSpec,
  inputGroup: number,
  inputPort: number,
  srcPort = -1,
): Output {
  const tx = new TxPort(2, 100, 0, 2048, 64, new Uint8Array(spec.srcMac), 1514);
  const group = ipv4(spec.group) | 0;
  const tos = spec.dscp === undefined ? -1 : spec.dscp << 2;
  return new Output(
    EGRESS_L2,
    tx,
    null,
    0,
    4,
    Int32Array.of(group),
    spec.port,
    Int32Array.of(ipv4(spec.src) | 0),
    spec.ttl,
    tos,
    multicastMac(parseIp(spec.group)!),
    Int32Array.of(inputGroup),
    inputPort,
    0,
    srcPort,
  );
}

/**
 * Parses `input` and rewrites it for `spec` the way forwardPacket() drives
 * rewriteInto(); `partial` says the ring flagged TP_STATUS_CSUMNOTREADY.
 * Returns the output frame and the buffer, for checks around it.
 */
function rewrite(
  input: Uint8Array,
  spec: RewriteSpec,
  partial = false,
  srcPort = -1,
): { out: Uint8Array; buffer: Uint8Array } {
  const buffer = new Uint8Array(4096).fill(0xee);
  const view = new DataView(buffer.buffer);
  buffer.set(input, RX_AT);
  assert.equal(parseFrame(view, RX_AT, input.length), 0, "the input frame parses");
  const ip = ipOffset(input);
  const inputGroup = view.getInt32(RX_AT + ip + 16);
  const u = FRAME[F_UDP];
  const udpChecksum = partial
    ? finishPartialChecksum(view, u, FRAME[F_UDP_LEN])
    : view.getUint16(u + 6);
  const out = outputFor(spec, inputGroup, view.getUint16(u + 2), srcPort);
  const len = rewriteInto(view, buffer, TX_AT, out, udpChecksum, sourceDelta(FRAME[F_SRC]));
  return { out: buffer.slice(TX_AT, TX_AT + len), buffer };
}

function assertSameFrame(actual: Uint8Array, expected: Uint8Array, what: string): void {
  const diff = hexDiff(actual, expected);
  assert.equal(diff, "", `${what}: rewritten frame differs from the expected one\n${diff}`);
}

const GOLDEN: Record<string, RewriteSpec> = {
  plain: {
    srcMac: [0x02, 0, 0, 0, 0x01, 0x02],
    src: "10.0.1.1",
    group: "239.9.9.9",
    port: 5099,
    ttl: 7,
    dscp: 46,
  },
  vlan_options_padded: {
    srcMac: [0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee],
    src: "172.16.0.1",
    group: "239.200.0.1",
    port: 6000,
    ttl: 64,
  },
  no_checksum: {
    srcMac: [0x02, 0, 0, 0, 0x01, 0x02],
    src: "10.0.1.1",
    group: "239.9.9.10",
    port: 5100,
    ttl: 16,
    dscp: 0,
  },
  partial_checksum: {
    srcMac: [0x02, 0, 0, 0, 0x01, 0x02],
    src: "10.0.1.1",
    group: "239.9.9.11",
    port: 5101,
    ttl: 9,
  },
};

for (const [name, spec] of Object.entries(GOLDEN)) {
  Deno.test(`rewriteInto() turns golden frame "${name}" into its expected output byte for byte`, () => {
    const input = readFixture(`${name}.in`);
    const expected = readFixture(`${name}.out`);
    assert.deepEqual(verifyFrame(expected), [], "the golden output itself verifies");
    const { out } = rewrite(input, spec, name === "partial_checksum");
    assertSameFrame(out, expected, name);
  });
}

Deno.test("rewriteInto() writes the group MAC, the output's MAC, addresses, port, TTL and DSCP with ECN kept", () => {
  const input = readFixture("plain.in");
  const { out } = rewrite(input, GOLDEN.plain);
  const d = decodeFrame(out);
  assert.equal(d.dstMac, "01:00:5e:09:09:09");
  assert.equal(d.srcMac, "02:00:00:00:01:02");
  assert.deepEqual(d.vlanIds, []);
  assert.equal(d.ip?.src, "10.0.1.1");
  assert.equal(d.ip?.dst, "239.9.9.9");
  assert.equal(d.ip?.ttl, 7);
  assert.equal(d.ip?.tos, (46 << 2) | 0x01, "DSCP 46 with the input's ECN bits (01)");
  assert.equal(d.udp?.dstPort, 5099);
  assert.equal(d.udp?.srcPort, 40000, "the UDP source port is kept");
  assert.equal(d.ip?.id, 0x1234, "the IP id is kept");
  assert.deepEqual(verifyFrame(out), []);
  assert.deepEqual(d.payload, decodeFrame(input).payload);
});

Deno.test("rewriteInto() maps a group to 01:00:5e plus its low 23 bits", () => {
  const { out } = rewrite(udpFrame(), { ...GOLDEN.plain, group: "239.129.200.7" });
  assert.equal(decodeFrame(out).dstMac, "01:00:5e:01:c8:07");
});

Deno.test("rewriteInto() keeps IP options and drops the VLAN tag and Ethernet padding", () => {
  const input = readFixture("vlan_options_padded.in");
  const { out } = rewrite(input, GOLDEN.vlan_options_padded);
  const d = decodeFrame(out);
  assert.deepEqual(d.vlanIds, []);
  assert.deepEqual(d.ip?.options, decodeFrame(input).ip?.options);
  assert.equal(d.ip?.ihl, 28);
  assert.equal(out.length, 14 + 42, "Ethernet header + IPv4 total length, no padding");
  assert.equal(d.ip?.tos, 0xb8, "no DSCP configured: TOS kept");
});

Deno.test("rewriteInto() leaves a UDP checksum of 0 (none sent) at 0", () => {
  const { out } = rewrite(readFixture("no_checksum.in"), GOLDEN.no_checksum);
  assert.equal(get16(out, udpOffset(out) + 6), 0);
  assert.deepEqual(verifyFrame(out), []);
});

Deno.test("rewriteInto() finishes a partial (CSUMNOTREADY) checksum into a valid one", () => {
  const input = udpFrame({ udpChecksum: "partial", payload: 201 });
  assert.notDeepEqual(
    verifyFrame(input),
    [],
    "the input's checksum field is only the pseudo-header sum",
  );
  const { out } = rewrite(input, GOLDEN.partial_checksum, true);
  assert.deepEqual(verifyFrame(out), []);
  assert.notEqual(get16(out, udpOffset(out) + 6), 0);
});

Deno.test("rewriteInto() returns the output length and writes nothing past it", () => {
  const input = udpFrame({ payload: 77, ethernetPadding: 9 });
  const { out, buffer } = rewrite(input, GOLDEN.plain);
  assert.equal(out.length, input.length - 9);
  for (let i = TX_AT + out.length; i < buffer.length; i++) {
    assert.equal(buffer[i], 0xee, `byte ${i - TX_AT}`);
  }
  for (let i = RX_AT + input.length; i < TX_AT; i++) {
    assert.equal(buffer[i], 0xee, `byte ${i} between frames`);
  }
});

Deno.test("rewriteInto() does not modify the input frame", () => {
  const input = udpFrame({ vlanIds: [3], ipOptions: new Uint8Array(12).fill(1), payload: 50 });
  const { buffer } = rewrite(input, GOLDEN.plain);
  assert.deepEqual(buffer.slice(RX_AT, RX_AT + input.length), input);
});

Deno.test("rewriteInto() output equals the reference model and verifies for random frames and outputs", () => {
  fc.assert(
    fc.property(arbUdpFrameOptions(), arbRewriteSpec(), (opts, spec) => {
      const input = udpFrame(opts);
      const partial = opts.udpChecksum === "partial";
      const { out } = rewrite(input, spec, partial);
      assert.deepEqual(verifyFrame(out), []);
      assertSameFrame(out, expectedRewrite(input, spec), "random frame");
      const d = decodeFrame(out);
      assert.deepEqual(d.payload, decodeFrame(input).payload, "payload intact");
      assert.deepEqual(d.ip?.options, decodeFrame(input).ip?.options, "options intact");
    }),
    { numRuns: 2000 },
  );
});

Deno.test("rewriteInto() with a source port (a merge's output) writes it and keeps the checksum valid, for random frames", () => {
  fc.assert(
    fc.property(
      arbUdpFrameOptions(),
      arbRewriteSpec(),
      fc.integer({ min: 1, max: 65535 }),
      (opts, spec, srcPort) => {
        const input = udpFrame(opts);
        const { out } = rewrite(input, spec, opts.udpChecksum === "partial", srcPort);
        assert.deepEqual(verifyFrame(out), []);
        const d = decodeFrame(out);
        assert.equal(d.udp?.srcPort, srcPort);
        assert.equal(d.udp?.dstPort, spec.port);
        assert.deepEqual(d.payload, decodeFrame(input).payload, "payload intact");
        // Everything else as without the port: the reference model's frame but for it.
        const expected = expectedRewrite(input, spec);
        const ref = decodeFrame(expected);
        assert.equal(d.ip?.src, ref.ip?.src);
        assert.equal(d.ip?.dst, ref.ip?.dst);
        assert.equal(d.ip?.ttl, ref.ip?.ttl);
      },
    ),
    { numRuns: 2000 },
  );
});
