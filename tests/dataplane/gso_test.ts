/**
 * UDP GSO input (an input with `gso`): a frame carrying several datagrams,
 * with its segment size in the virtio_net_hdr before it, is relayed as the
 * datagrams it stands for, each with its own lengths, IPv4 identification
 * and checksums, checked by an independent decoder (tests/helpers).
 */
import assert from "node:assert/strict";
import { TP_STATUS_CSUMNOTREADY } from "../../ffi/layout.ts";
import { processBlock, processFrames } from "../../src/dataplane/forward_loop.ts";
import { GSO_MAX_SEGMENTS, VNET_HDR_LEN } from "../../src/dataplane/gso.ts";
import fc from "fast-check";
import { fakeWorker, planFor, totalDrops, workerCounters } from "../helpers/fake_ring.ts";
import { decodeFrame, get16, udpFrame, verifyFrame } from "../helpers/frames.ts";
import { decode6, ipv6Bytes, udp6Frame } from "../helpers/frames6.ts";
import { TEST_INTERFACES } from "../helpers/fake_ring.ts";

/** The test interfaces with IPv6 addresses, as an IPv6 rule needs them. */
const V6_INTERFACES = TEST_INTERFACES.map((f) => ({
  ...f,
  ipv6: f.name === "out1"
    ? [...ipv6Bytes("2001:db8:1::1")]
    : f.name === "in0"
    ? [...ipv6Bytes("2001:db8::2")]
    : null,
}));

const V4 = {
  rules: [{
    name: "gso",
    input: { interface: "in0", group: "239.1.1.1", port: 5001, gso: true },
    outputs: [{ interface: "out1", group: "239.9.9.9", port: 5099 }],
  }],
};
const V6 = {
  rules: [{
    name: "gso6",
    input: { interface: "in0", group: "ff3e::1:1", port: 5001, gso: true },
    outputs: [{ interface: "out1", group: "ff3e::9", port: 5099 }],
  }],
};

/** fillFrames() puts the MAC header at 80 in each frame: the virtio_net_hdr is the 10 bytes before it. */
function setVnetHeader(
  w: ReturnType<typeof fakeWorker>,
  frame: number,
  gsoType: number,
  gsoSize: number,
): void {
  const rx = w.arena.rx[0];
  const hdr = rx.offset + frame * rx.frameSize + 80 - VNET_HDR_LEN;
  w.arena.view.setUint8(hdr + 1, gsoType);
  w.arena.view.setUint16(hdr + 4, gsoSize, true);
}

function gsoWorker(config: unknown, interfaces = TEST_INTERFACES) {
  return fakeWorker(planFor(config, interfaces), {
    frameSize: 16384,
    blockSize: 65536,
    blockCount: 2,
    txFrames: 64,
    vnet: true,
  });
}

Deno.test("an IPv4 GSO frame of 350 bytes in 100-byte segments is relayed as 4 datagrams, each valid on its own", () => {
  const w = gsoWorker(V4);
  const payload = Uint8Array.from({ length: 350 }, (_, i) => (i * 7 + 3) & 0xff);
  // As a GSO sender hands it over: lengths of the whole, UDP checksum partial (TX offload).
  const frame = udpFrame({ payload, id: 0x1000, ttl: 9, udpChecksum: "partial" });
  w.arena.rx[0].fillFrames(0, [{ frame, status: TP_STATUS_CSUMNOTREADY }]);
  setVnetHeader(w, 0, 5, 100);
  assert.equal(processFrames(w.state, w.inputs[0]), 1);

  const out = w.arena.tx[0].frames();
  assert.equal(out.length, 4);
  out.forEach((f, k) => {
    assert.deepEqual(
      verifyFrame(f.bytes),
      [],
      `datagram ${k}: valid IPv4 and UDP checksums and lengths`,
    );
    const d = decodeFrame(f.bytes);
    assert.equal(d.ip!.dst, "239.9.9.9");
    assert.equal(d.udp!.dstPort, 5099);
    assert.equal(d.ip!.id, 0x1000 + k, "the identification the kernel's own segmentation gives");
    assert.equal(d.ip!.ttl, 8);
    assert.deepEqual(
      d.payload,
      payload.slice(k * 100, Math.min(350, (k + 1) * 100)),
      `datagram ${k} carries its segment`,
    );
  });
  assert.deepEqual(out.map((f) => decodeFrame(f.bytes).udp!.length), [108, 108, 108, 58]);
  const c = workerCounters(w.state);
  assert.equal(c.rx_packets, 4, "rx_packets counts datagrams");
  assert.equal(c.matched, 4);
  assert.equal(c.rx_gso_frames, 1);
  assert.equal(c.tx_sent, 4);
});

Deno.test("on a gso input an ordinary frame (no segmentation) is relayed as it is", () => {
  const w = gsoWorker(V4);
  w.arena.rx[0].fillFrames(0, [udpFrame({ payload: 200 })]);
  setVnetHeader(w, 0, 0, 0);
  processFrames(w.state, w.inputs[0]);
  const out = w.arena.tx[0].frames();
  assert.equal(out.length, 1);
  assert.deepEqual(verifyFrame(out[0].bytes), []);
  assert.equal(decodeFrame(out[0].bytes).udp!.length, 208);
  assert.equal(workerCounters(w.state).rx_gso_frames, 0);
});

Deno.test("an IPv6 GSO frame is split with each datagram's payload length and UDP checksum", () => {
  const w = gsoWorker(V6, V6_INTERFACES);
  const frame = udp6Frame({ payload: 250 });
  const whole = decode6(frame).payload;
  w.arena.rx[0].fillFrames(0, [frame]);
  setVnetHeader(w, 0, 5, 120);
  processFrames(w.state, w.inputs[0]);
  const out = w.arena.tx[0].frames();
  assert.equal(out.length, 3);
  out.forEach((f, k) => {
    const d = decode6(f.bytes);
    assert.deepEqual(d.problems, [], `datagram ${k}`);
    assert.equal(d.dstPort, 5099);
    assert.deepEqual(d.payload, whole.slice(k * 120, Math.min(250, (k + 1) * 120)));
  });
  assert.deepEqual(out.map((f) => get16(f.bytes, 14 + 4)), [128, 128, 18], "IPv6 payload lengths");
});

Deno.test("a segment size larger than the datagram is one datagram; a truncated GSO frame is counted once, not split", () => {
  const w = gsoWorker(V4);
  w.arena.rx[0].fillFrames(0, [udpFrame({ payload: 300 })]);
  setVnetHeader(w, 0, 5, 1400);
  processFrames(w.state, w.inputs[0]);
  assert.equal(w.arena.tx[0].frames().length, 1);

  const v = gsoWorker(V4);
  const big = udpFrame({ payload: 3000 });
  // The slot held only part of it (snaplen < the IP total length): nothing to split.
  v.arena.rx[0].fillFrames(0, [big.subarray(0, 1000)]);
  setVnetHeader(v, 0, 5, 1000);
  processFrames(v.state, v.inputs[0]);
  assert.equal(v.arena.tx[0].frames().length, 0);
  const c = workerCounters(v.state);
  assert.equal(c.rx_packets, 1);
  assert.equal(c.drop_truncated, 1);
});

Deno.test("hostile segmentation headers (any segment size, any frame length, a forged gso_type) never write outside the slot or a TX frame, and every datagram is counted once", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 2000 }), // payload bytes
      fc.integer({ min: 0, max: 70000 }), // gso_size as the header claims it
      fc.constantFrom(0, 5, 0x85, 1, 3, 0xff), // gso_type: none, UDP_L4, UDP_L4|ECN, TCPv4, TCPv6, nonsense
      fc.integer({ min: 14, max: 2100 }), // captured bytes (truncation)
      (payloadLen, size, gsoType, captured) => {
        const w = gsoWorker(V4);
        w.arena.tx[0].poison();
        const frame = udpFrame({ payload: payloadLen, udpChecksum: "partial" });
        w.arena.rx[0].fillFrames(0, [{
          frame: frame.subarray(0, Math.min(captured, frame.length)),
          status: TP_STATUS_CSUMNOTREADY,
        }]);
        setVnetHeader(w, 0, gsoType, size);
        processFrames(w.state, w.inputs[0]);
        assert.deepEqual(w.arena.checkGuards(), []);
        assert.deepEqual(w.arena.tx[0].checkFrames(), []);
        const c = workerCounters(w.state);
        assert.equal(c.rx_packets, c.matched + totalDrops(w.state), "rx = matched + drops");
        for (const f of w.arena.tx[0].frames()) assert.deepEqual(verifyFrame(f.bytes), []);
        if (
          (gsoType & 0x7f) === 5 && size > 0 && Math.ceil(payloadLen / size) > GSO_MAX_SEGMENTS &&
          captured >= frame.length
        ) {
          assert.equal(
            c.drop_bad_header,
            1,
            "more datagrams than a sender may put in one frame: dropped whole",
          );
        }
      },
    ),
    { numRuns: Number(Deno.env.get("MCR_FUZZ_RUNS") ?? 2000) },
  );
});

Deno.test("blocks mode (TPACKET_V3): a GSO frame in a block is split the same way, and the block's other packets still go", () => {
  const w = fakeWorker(planFor(V4), { blockSize: 65536, blockCount: 2, txFrames: 64, vnet: true });
  const payload = Uint8Array.from({ length: 3000 }, (_, i) => (i * 13) & 0xff);
  const [gsoPkt] = w.arena.rx[0].fillBlock(0, [
    { frame: udpFrame({ payload, id: 7, udpChecksum: "partial" }), status: TP_STATUS_CSUMNOTREADY },
    udpFrame({ payload: 64 }),
  ]);
  const view = w.arena.view;
  const mac = gsoPkt + view.getUint16(gsoPkt + 24, true); // tp_mac of the first packet
  view.setUint8(mac - VNET_HDR_LEN + 1, 5);
  view.setUint16(mac - VNET_HDR_LEN + 4, 1000, true);
  assert.equal(processBlock(w.state, w.inputs[0]), 1);
  const out = w.arena.tx[0].frames();
  assert.equal(out.length, 4, "3 datagrams from the GSO frame and the ordinary one");
  for (const f of out) assert.deepEqual(verifyFrame(f.bytes), []);
  assert.deepEqual(out.slice(0, 3).map((f) => decodeFrame(f.bytes).payload), [
    payload.slice(0, 1000),
    payload.slice(1000, 2000),
    payload.slice(2000),
  ]);
  const c = workerCounters(w.state);
  assert.equal(c.rx_packets, 4);
  assert.equal(c.rx_gso_frames, 1);
});
