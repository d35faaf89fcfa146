import assert from "node:assert/strict";
import {
  buildPayload,
  checkPayload,
  PAYLOAD_CORRUPT,
  PAYLOAD_FOREIGN,
  PAYLOAD_OK,
  payloadSequence,
} from "../../src/tools/payload.ts";

function datagram(runId: number, size: number, seq: number): Uint8Array {
  const p = buildPayload(runId, size);
  const v = new DataView(p.buffer);
  v.setUint32(8, Math.floor(seq / 2 ** 32));
  v.setUint32(12, seq >>> 0);
  return p;
}

Deno.test("checkPayload() accepts an intact datagram and reads its 64-bit sequence number", () => {
  const d = datagram(77, 1024, 2 ** 40 + 5);
  const v = new DataView(d.buffer);
  assert.equal(checkPayload(v, d, 0, d.length, 77), PAYLOAD_OK);
  assert.equal(checkPayload(v, d, 0, d.length, -1), PAYLOAD_OK);
  assert.equal(payloadSequence(v, 0), 2 ** 40 + 5);
});

Deno.test("checkPayload() tells other runs and other traffic (foreign) from damaged datagrams (corrupt)", () => {
  const d = datagram(77, 512, 1);
  const v = new DataView(d.buffer);
  assert.equal(checkPayload(v, d, 0, d.length, 78), PAYLOAD_FOREIGN);
  const zeros = new Uint8Array(64);
  assert.equal(checkPayload(new DataView(zeros.buffer), zeros, 0, 64, -1), PAYLOAD_FOREIGN);
  assert.equal(checkPayload(v, d, 0, 300, 77), PAYLOAD_CORRUPT, "truncated");
  const flipped = d.slice();
  flipped[32 + 61] ^= 0xff; // a checked filler byte (filler starts at 32)
  assert.equal(
    checkPayload(new DataView(flipped.buffer), flipped, 0, flipped.length, 77),
    PAYLOAD_CORRUPT,
  );
  const last = d.slice();
  last[last.length - 1] ^= 1;
  assert.equal(checkPayload(new DataView(last.buffer), last, 0, last.length, 77), PAYLOAD_CORRUPT);
});
