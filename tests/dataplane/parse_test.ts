/**
 * parseFrame(): every drop reason it returns, and the fields it reads from
 * frames that pass. Frames come from tests/helpers/frames.ts; each is parsed
 * through a DataView exactly as long as the bytes given, so a read past the
 * captured length throws instead of passing unnoticed.
 */
import assert from "node:assert/strict";
import { vlanKey } from "../../src/dataplane/plan_types.ts";
import {
  F_FRAG,
  F_GROUP,
  F_IHL,
  F_IP,
  F_PORT,
  F_PROTO,
  F_SRC,
  F_TOTAL,
  F_UDP,
  F_UDP_LEN,
  F_VLAN,
  FRAME,
  parseFrame,
  R_BAD_HEADER,
  R_NOT_IP,
  R_TRUNCATED,
} from "../../src/dataplane/parse.ts";
import {
  arpFrame,
  edited,
  ETHERTYPE_IPV6,
  ETHERTYPE_QINQ,
  fixIpChecksum,
  IPPROTO_ICMP,
  IPPROTO_TCP,
  ipv4,
  ipv6Frame,
  put16,
  udpFrame,
  udpOffset,
} from "../helpers/frames.ts";

/** Parses the first `len` bytes of frame, placed at `at` in a buffer that ends right after them. */
function parse(frame: Uint8Array, len = frame.length, at = 0): number {
  const buffer = new Uint8Array(at + len);
  buffer.set(frame.subarray(0, len), at);
  return parseFrame(new DataView(buffer.buffer), at, len);
}

Deno.test("parseFrame() reads offsets, group, source and port of a plain UDP frame", () => {
  const f = udpFrame({ src: "10.9.8.7", dst: "239.1.2.3", dstPort: 6000, payload: 100 });
  assert.equal(parse(f), 0);
  assert.equal(FRAME[F_IP], 14);
  assert.equal(FRAME[F_IHL], 20);
  assert.equal(FRAME[F_TOTAL], 20 + 8 + 100);
  assert.equal(FRAME[F_UDP], 34);
  assert.equal(FRAME[F_UDP_LEN], 108);
  assert.equal(FRAME[F_GROUP], ipv4("239.1.2.3") | 0);
  assert.equal(FRAME[F_SRC], ipv4("10.9.8.7") | 0);
  assert.equal(FRAME[F_PORT], 6000);
  assert.equal(FRAME[F_FRAG], 0);
});

Deno.test("parseFrame() returns offsets relative to the buffer, not to the frame", () => {
  assert.equal(parse(udpFrame(), undefined, 1000), 0);
  assert.equal(FRAME[F_IP], 1014);
  assert.equal(FRAME[F_UDP], 1034);
});

Deno.test("parseFrame() parses a frame with one 802.1Q tag", () => {
  const f = udpFrame({ vlanIds: [100], dstPort: 5004 });
  assert.equal(parse(f), 0);
  assert.equal(FRAME[F_IP], 18);
  assert.equal(FRAME[F_UDP], 38);
  assert.equal(FRAME[F_PORT], 5004);
});

Deno.test("parseFrame() finds the UDP header after IP options for every IHL from 5 to 15", () => {
  for (let ihl = 5; ihl <= 15; ihl++) {
    const options = new Uint8Array((ihl - 5) * 4).fill(0x01); // NOP options
    const f = udpFrame({ ipOptions: options, dstPort: 5000 + ihl });
    assert.equal(parse(f), 0, `IHL ${ihl}`);
    assert.equal(FRAME[F_IHL], ihl * 4);
    assert.equal(FRAME[F_UDP], 14 + ihl * 4);
    assert.equal(FRAME[F_PORT], 5000 + ihl);
  }
});

Deno.test("parseFrame() ignores Ethernet padding after the IPv4 total length", () => {
  const f = udpFrame({ payload: 4, ethernetPadding: 14 }); // 14 + 32 + 14 = 60 bytes on the wire
  assert.equal(f.length, 60);
  assert.equal(parse(f), 0);
  assert.equal(FRAME[F_TOTAL], 32);
});

Deno.test("parseFrame() accepts a UDP length shorter than the IP payload (trailing bytes)", () => {
  const f = edited(udpFrame({ payload: 20 }), (b, ip) => put16(b, ip + 20 + 4, 8 + 10));
  assert.equal(parse(f), 0);
  assert.equal(FRAME[F_UDP_LEN], 18);
  assert.equal(FRAME[F_TOTAL], 48);
});

Deno.test("parseFrame() reports a frame cut at every length short of its IPv4 packet as truncated", () => {
  for (
    const f of [
      udpFrame({ payload: 40 }),
      udpFrame({ vlanIds: [7], ipOptions: new Uint8Array(8), payload: 3 }),
    ]
  ) {
    const ipEnd = f.length; // no padding in these frames
    for (let len = 0; len < ipEnd; len++) {
      assert.equal(parse(f, len), -R_TRUNCATED, `cut at ${len} of ${f.length}`);
    }
    assert.equal(parse(f, ipEnd), 0);
  }
});

Deno.test("parseFrame() reports a frame cut inside its Ethernet padding as fine", () => {
  const f = udpFrame({ payload: 4, ethernetPadding: 14 });
  for (let len = 46; len <= 60; len++) assert.equal(parse(f, len), 0, `cut at ${len}`);
});

Deno.test("parseFrame() rejects frames that are not IPv4 or IPv6 as not_ip", async (t) => {
  await t.step("ARP", () => assert.equal(parse(arpFrame()), -R_NOT_IP));
  await t.step("version 4 inside an IPv6 ethertype", () => {
    assert.equal(parse(edited(ipv6Frame(), (b, ip) => b[ip] = 0x40)), -R_NOT_IP);
  });
  await t.step("an IPv4 header behind an 802.1Q tag with the IPv6 ethertype", () => {
    const f = edited(udpFrame({ vlanIds: [5] }), (b) => put16(b, 16, ETHERTYPE_IPV6));
    assert.equal(parse(f), -R_NOT_IP);
  });
  await t.step("version 6 inside an IPv4 ethertype", () => {
    const f = fixIpChecksum(edited(udpFrame(), (b, ip) => b[ip] = 0x65));
    assert.equal(parse(f), -R_NOT_IP);
  });
});

Deno.test("parseFrame() reads the VLAN tags, the one the kernel took into the ring header first, into F_VLAN", () => {
  assert.equal(parse(udpFrame()), 0);
  assert.equal(FRAME[F_VLAN], 0, "untagged");
  assert.equal(parse(udpFrame({ vlanIds: [100] })), 0);
  assert.equal(FRAME[F_VLAN], 100);
  assert.equal(parse(udpFrame({ vlanIds: [10, 20] })), 0);
  assert.equal(FRAME[F_VLAN], vlanKey(10, 20), "two stacked 802.1Q tags: outer, inner");
  assert.equal(parse(udpFrame({ vlanIds: [10, 20], outerTpid: ETHERTYPE_QINQ })), 0);
  assert.equal(FRAME[F_VLAN], vlanKey(10, 20), "802.1ad outer tag");
  assert.equal(
    parseFrame(
      new DataView(udpFrame({ vlanIds: [20] }).buffer),
      0,
      udpFrame({ vlanIds: [20] }).length,
      10,
    ),
    0,
  );
  assert.equal(
    FRAME[F_VLAN],
    vlanKey(10, 20),
    "outer tag from the ring header, inner in the frame",
  );
  assert.equal(parse(udpFrame({ vlanIds: [0] })), 0);
  assert.equal(FRAME[F_VLAN], 0, "a priority tag (VID 0) is no VLAN");
  assert.equal(parse(udpFrame({ vlanIds: [1, 2, 3] })), 0);
  assert.equal(FRAME[F_VLAN], -1, "three tags match no rule");
  assert.equal(parse(udpFrame({ vlanIds: [5] }), 17), -R_TRUNCATED, "a tag cut short");
});

Deno.test("parseFrame() rejects an IHL below 5 as bad_header", () => {
  for (let ihl = 0; ihl < 5; ihl++) {
    const f = edited(udpFrame(), (b, ip) => b[ip] = 0x40 | ihl);
    assert.equal(parse(f), -R_BAD_HEADER, `IHL ${ihl}`);
  }
});

Deno.test("parseFrame() rejects a total length larger than the frame as truncated", () => {
  const f = fixIpChecksum(
    edited(udpFrame({ payload: 10 }), (b, ip) => put16(b, ip + 2, 20 + 8 + 11)),
  );
  assert.equal(parse(f), -R_TRUNCATED);
});

Deno.test("parseFrame() rejects a total length below the header length as bad_header", () => {
  const plain = fixIpChecksum(edited(udpFrame(), (b, ip) => put16(b, ip + 2, 19)));
  assert.equal(parse(plain), -R_BAD_HEADER);
  const withOptions = fixIpChecksum(
    edited(udpFrame({ ipOptions: new Uint8Array(8) }), (b, ip) => put16(b, ip + 2, 24)),
  );
  assert.equal(parse(withOptions), -R_BAD_HEADER);
});

Deno.test("parseFrame() rejects an IP payload too short for a UDP header as truncated", () => {
  const f = fixIpChecksum(edited(udpFrame({ payload: 0 }), (b, ip) => put16(b, ip + 2, 20 + 7)));
  assert.equal(parse(f), -R_TRUNCATED);
});

Deno.test("parseFrame() rejects a UDP length that lies as bad_header", async (t) => {
  const f = udpFrame({ payload: 20 });
  const u = udpOffset(f);
  await t.step("longer than the IP payload", () => {
    assert.equal(parse(edited(f, (b) => put16(b, u + 4, 8 + 21))), -R_BAD_HEADER);
    assert.equal(parse(edited(f, (b) => put16(b, u + 4, 0xffff))), -R_BAD_HEADER);
  });
  await t.step("shorter than a UDP header", () => {
    for (const len of [0, 1, 7]) {
      assert.equal(parse(edited(f, (b) => put16(b, u + 4, len))), -R_BAD_HEADER);
    }
  });
});

Deno.test("parseFrame() takes another IPv4 protocol whole: its number in F_PROTO, no UDP header (a rule for it decides)", () => {
  for (const protocol of [IPPROTO_TCP, IPPROTO_ICMP, 50]) {
    assert.equal(parse(udpFrame({ protocol, payload: 20 })), 0);
    assert.equal(FRAME[F_PROTO], protocol);
    assert.equal(FRAME[F_UDP], -1);
    assert.equal(FRAME[F_PORT], 0);
  }
  assert.equal(parse(udpFrame()), 0);
  assert.equal(FRAME[F_PROTO], 17);
});

Deno.test("parseFrame() rejects an IPv4 header whose checksum is wrong as bad_header", () => {
  const f = udpFrame();
  for (const off of [1, 3, 5, 8, 10, 11, 15, 19]) {
    const bad = edited(f, (b, ip) => b[ip + off] ^= 0x10);
    assert.equal(parse(bad), -R_BAD_HEADER, `byte ${off} flipped`);
  }
  const badOption = edited(
    udpFrame({ ipOptions: new Uint8Array([1, 1, 1, 1]) }),
    (b, ip) => b[ip + 21] = 0,
  );
  assert.equal(parse(badOption), -R_BAD_HEADER, "an option byte changed");
});

Deno.test("parseFrame() marks a first fragment (MF, offset 0) and reads its UDP header", () => {
  const f = udpFrame({ moreFragments: true, dstPort: 5010, payload: 64 });
  assert.equal(parse(f), 0);
  assert.equal(FRAME[F_FRAG], 1);
  assert.equal(FRAME[F_UDP], 34);
  assert.equal(FRAME[F_PORT], 5010);
});

Deno.test("parseFrame() accepts a first fragment whose UDP length covers the whole datagram", () => {
  const f = edited(
    udpFrame({ moreFragments: true, payload: 64 }),
    (b, ip) => put16(b, ip + 24, 8 + 3000),
  );
  assert.equal(parse(f), 0);
  assert.equal(FRAME[F_FRAG], 1);
  assert.equal(FRAME[F_UDP_LEN], 3008);
});

Deno.test("parseFrame() marks later fragments (offset > 0) and reads no UDP header", () => {
  for (const moreFragments of [true, false]) {
    const f = udpFrame({ fragmentOffset: 185, moreFragments, dst: "239.5.5.5", payload: 64 });
    assert.equal(parse(f), 0);
    assert.equal(FRAME[F_FRAG], 2);
    assert.equal(FRAME[F_UDP], -1);
    assert.equal(FRAME[F_PORT], 0);
    assert.equal(FRAME[F_GROUP], ipv4("239.5.5.5") | 0);
  }
});

Deno.test("parseFrame() does not treat the DF flag as a fragment", () => {
  assert.equal(parse(udpFrame({ dontFragment: true })), 0);
  assert.equal(FRAME[F_FRAG], 0);
});

Deno.test("parseFrame() reads addresses at and above 128.0.0.0 as int32", () => {
  assert.equal(parse(udpFrame({ src: "192.168.1.1", dst: "239.255.255.250" })), 0);
  assert.equal(FRAME[F_SRC], ipv4("192.168.1.1") | 0);
  assert.ok(FRAME[F_SRC] < 0);
  assert.equal(FRAME[F_GROUP], ipv4("239.255.255.250") | 0);
});
