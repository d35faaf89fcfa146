/**
 * src/dataplane/checksum.ts against the byte-loop reference in
 * tests/helpers/frames.ts (RFC 1071), and the RFC 1624 incremental update
 * against full recomputation.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  adjustChecksum,
  delta16,
  delta32,
  fold16,
  ipv4HeaderChecksum,
  sumWords,
  udpChecksumV4,
} from "../../src/net/checksum.ts";
import { internetChecksum, onesSum, pseudoHeaderSum } from "../helpers/frames.ts";

function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** 0x0000 and 0xffff are the same ones'-complement number; UDP sends 0xffff for a computed 0. */
function udpForm(checksum: number): number {
  return checksum === 0 ? 0xffff : checksum;
}

function setWord(bytes: Uint8Array, off: number, value: number): void {
  bytes[off] = (value >>> 8) & 0xff;
  bytes[off + 1] = value & 0xff;
}

function setLong(bytes: Uint8Array, off: number, value: number): void {
  setWord(bytes, off, value >>> 16);
  setWord(bytes, off + 2, value & 0xffff);
}

Deno.test("fold16() folds any 32-bit sum to 16 bits, congruent modulo 0xffff", () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 0xffffffff }), (sum) => {
      const folded = fold16(sum);
      assert.ok(folded >= 1 && folded <= 0xffff, `fold16(${sum}) = ${folded}`);
      assert.equal(folded % 0xffff, sum % 0xffff);
    }),
  );
  assert.equal(fold16(0), 0);
  assert.equal(fold16(0xffff), 0xffff);
  assert.equal(fold16(0x1fffe), 0xffff);
  assert.equal(fold16(0xffffffff), 0xffff);
});

Deno.test("sumWords() equals the byte-loop reference for every length and offset, odd lengths padded", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 0, maxLength: 300 }),
      fc.nat({ max: 7 }),
      (data, start) => {
        const bytes = new Uint8Array(start + data.length);
        bytes.set(data, start);
        assert.equal(
          fold16(sumWords(viewOf(bytes), start, data.length)),
          onesSum(bytes, start, start + data.length),
        );
      },
    ),
  );
});

Deno.test("sumWords() pads an odd last byte as the high half of a word (RFC 1071)", () => {
  const bytes = new Uint8Array([0x12, 0x34, 0xab]);
  assert.equal(sumWords(viewOf(bytes), 0, 3), 0x1234 + 0xab00);
  assert.equal(sumWords(viewOf(bytes), 2, 1), 0xab00);
  assert.equal(sumWords(viewOf(bytes), 0, 0), 0);
});

Deno.test("sumWords() does not overflow over 64 KiB of 0xff bytes (and one odd byte)", () => {
  const bytes = new Uint8Array(65536 + 1).fill(0xff);
  const sum = sumWords(viewOf(bytes), 0, bytes.length);
  assert.ok(sum <= 0x7fffffff, `sum ${sum} left the int32 range`);
  assert.equal(fold16(sum), onesSum(bytes, 0, bytes.length));
});

Deno.test("ipv4HeaderChecksum() equals the reference for random headers of 20..60 bytes", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 5, max: 15 }),
      fc.uint8Array({ minLength: 60, maxLength: 60 }),
      (ihl, data) => {
        const header = data.slice(0, ihl * 4);
        setWord(header, 10, 0);
        assert.equal(
          ipv4HeaderChecksum(viewOf(header), 0, header.length),
          internetChecksum(header, 0, header.length),
        );
      },
    ),
  );
});

Deno.test("udpChecksumV4() equals the reference over pseudo header and datagram, sending 0 as 0xffff", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.uint8Array({ minLength: 0, maxLength: 200 }),
      (src, dst, payload) => {
        const udp = new Uint8Array(8 + payload.length);
        setWord(udp, 4, udp.length);
        udp.set(payload, 8);
        const expected = internetChecksum(
          udp,
          0,
          udp.length,
          pseudoHeaderSum(src, dst, udp.length),
        );
        assert.equal(udpChecksumV4(viewOf(udp), src, dst, 0, udp.length), udpForm(expected));
      },
    ),
  );
});

Deno.test("udpChecksumV4() returns 0xffff when the computed checksum is 0", () => {
  // Choose the payload word so that the ones'-complement sum is 0xffff.
  const src = 0x0a000001, dst = 0xef010101;
  const udp = new Uint8Array(10);
  setWord(udp, 4, 10);
  const partial = onesSum(udp, 0, 10, pseudoHeaderSum(src, dst, 10));
  setWord(udp, 8, 0xffff - partial);
  assert.equal(onesSum(udp, 0, 10, pseudoHeaderSum(src, dst, 10)), 0xffff);
  assert.equal(udpChecksumV4(viewOf(udp), src, dst, 0, 10), 0xffff);
});

Deno.test("delta32() gives the same delta for an address as int32 and as u32", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.integer({ min: 0, max: 0xffffffff }),
      (a, b) => {
        assert.equal(delta32(a | 0, b | 0), delta32(a >>> 0, b >>> 0));
      },
    ),
  );
});

Deno.test("adjustChecksum() with delta32/delta16 equals recomputing an IPv4 header checksum", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 5, max: 15 }),
      fc.uint8Array({ minLength: 60, maxLength: 60 }),
      fc.constantFrom(12, 16), // a 32-bit field: source or destination address
      fc.integer({ min: 0, max: 0xffffffff }),
      // and one 16-bit word: not word 0 (version/IHL keep the header non-zero,
      // a real header never sums to the degenerate -0) nor word 5 (the checksum)
      fc.integer({ min: 1, max: 8 }),
      fc.integer({ min: 0, max: 0xffff }),
      (ihl, data, addrOff, newAddr, wordIndex, newWord) => {
        const header = data.slice(0, ihl * 4);
        header[0] = 0x40 | ihl;
        setWord(header, 10, 0);
        const before = internetChecksum(header, 0, header.length);
        const wordOff = (wordIndex >= 5 ? wordIndex + 1 : wordIndex) * 2;
        const v = viewOf(header);
        const oldAddr = v.getUint32(addrOff);
        let delta = delta32(oldAddr, newAddr);
        setLong(header, addrOff, newAddr);
        const oldWord = v.getUint16(wordOff);
        delta += delta16(oldWord, newWord);
        setWord(header, wordOff, newWord);
        const after = internetChecksum(header, 0, header.length);
        assert.equal(udpForm(adjustChecksum(before, delta)), udpForm(after));
        // And the adjusted header verifies.
        setWord(header, 10, adjustChecksum(before, delta));
        assert.equal(onesSum(header, 0, header.length), 0xffff);
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("adjustChecksum() for a new source, group and port equals recomputing the UDP checksum", () => {
  fc.assert(
    fc.property(
      fc.record({
        src: fc.integer({ min: 0, max: 0xffffffff }),
        dst: fc.integer({ min: 0, max: 0xffffffff }),
        port: fc.integer({ min: 0, max: 0xffff }),
        newSrc: fc.integer({ min: 0, max: 0xffffffff }),
        newDst: fc.integer({ min: 0, max: 0xffffffff }),
        newPort: fc.integer({ min: 0, max: 0xffff }),
      }),
      fc.uint8Array({ minLength: 0, maxLength: 1472 }),
      (p, payload) => {
        const udp = new Uint8Array(8 + payload.length);
        setWord(udp, 0, 40000);
        setWord(udp, 2, p.port);
        setWord(udp, 4, udp.length);
        udp.set(payload, 8);
        const before = udpForm(
          internetChecksum(udp, 0, udp.length, pseudoHeaderSum(p.src, p.dst, udp.length)),
        );
        const delta = delta32(p.src, p.newSrc) + delta32(p.dst, p.newDst) +
          delta16(p.port, p.newPort);
        setWord(udp, 2, p.newPort);
        const after = internetChecksum(
          udp,
          0,
          udp.length,
          pseudoHeaderSum(p.newSrc, p.newDst, udp.length),
        );
        assert.equal(udpForm(adjustChecksum(before, delta)), udpForm(after));
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("adjustChecksum() with a zero delta keeps a checksum's value", () => {
  for (const c of [0x0001, 0x1234, 0xfffe, 0xffff]) {
    assert.equal(udpForm(adjustChecksum(c, 0)), udpForm(c));
    assert.equal(udpForm(adjustChecksum(c, delta32(0x0a000001, 0x0a000001))), udpForm(c));
  }
});
