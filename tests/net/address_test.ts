/** Address text <-> bytes and words, for both families. */
import assert from "node:assert/strict";
import {
  formatIp,
  fromWords,
  ipWords,
  isMulticast,
  multicastMac,
  parseIp,
  prefixWords,
} from "../../src/net/address.ts";

Deno.test("parseIp() reads dotted quads and every IPv6 form; rejects what is neither", () => {
  assert.deepEqual([...parseIp("239.1.2.3")!.bytes], [239, 1, 2, 3]);
  assert.deepEqual([...parseIp("ff3e::1")!.bytes], [0xff, 0x3e, ...new Array(13).fill(0), 1]);
  assert.deepEqual(parseIp("2001:db8:0:0:0:0:0:1"), parseIp("2001:db8::1"));
  assert.deepEqual([...parseIp("::ffff:10.1.2.3")!.bytes.slice(10)], [0xff, 0xff, 10, 1, 2, 3]);
  for (
    const bad of [
      "239.1.2",
      "256.1.1.1",
      "1::2::3",
      "2001:db8::g",
      "1:2:3:4:5:6:7:8:9",
      "fe80::1%eth0",
      "",
    ]
  ) {
    assert.equal(parseIp(bad), null, bad);
  }
});

Deno.test("formatIp() writes canonical RFC 5952 text", () => {
  for (
    const [text, canonical] of [
      ["FF3E:0:0:0:0:0:0:1", "ff3e::1"],
      ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
      ["2001:0db8:0000:0001:0000:0000:0000:0001", "2001:db8:0:1::1"],
      ["::", "::"],
      ["1:0:2:0:3:0:4:0", "1:0:2:0:3:0:4:0"],
      ["10.0.0.1", "10.0.0.1"],
    ]
  ) assert.equal(formatIp(parseIp(text)!), canonical, text);
});

Deno.test("ipWords() and fromWords() round-trip as int32 words", () => {
  for (const t of ["239.255.0.1", "ff3e::8000:1", "2001:db8:ffff:ffff::ffff"]) {
    const a = parseIp(t)!;
    const w = ipWords(a);
    assert.ok(w.every((x) => x === (x | 0)));
    assert.deepEqual(fromWords(a.family, w), a);
  }
});

Deno.test("isMulticast() and multicastMac() for both families", () => {
  assert.ok(isMulticast(parseIp("224.0.0.1")!) && isMulticast(parseIp("ff02::1")!));
  assert.ok(!isMulticast(parseIp("10.0.0.1")!) && !isMulticast(parseIp("2001:db8::1")!));
  assert.deepEqual([...multicastMac(parseIp("ff3e::1:2345:6789")!)], [
    0x33,
    0x33,
    0x23,
    0x45,
    0x67,
    0x89,
  ]);
  assert.deepEqual([...multicastMac(parseIp("239.129.2.3")!)], [
    0x01,
    0x00,
    0x5e,
    0x01,
    0x02,
    0x03,
  ]);
});

Deno.test("prefixWords() masks across word boundaries", () => {
  const p = prefixWords("2001:db8:1234:5678::/50");
  assert.equal(p.length, 50);
  assert.deepEqual(p.mask, [-1, 0xffffc000 | 0, 0, 0]);
  assert.deepEqual(p.addr, [0x20010db8, 0x12344000, 0, 0]);
});
