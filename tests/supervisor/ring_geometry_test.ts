/**
 * Ring geometry: RX rings sized in time (200 ms at the declared rate, and
 * enough blocks that block_count x retire_ms covers 200 ms at low rates),
 * within the kernel's constraints; overrides honoured.
 *
 * Capacity is checked with the kernel's own per-packet arithmetic
 * (af_packet.c, TPACKET_V3): a packet of `len` bytes starting at mac offset
 * `macoff` takes ALIGN(macoff + len, 8) bytes of a block, after the 48-byte
 * block descriptor; for an untagged frame macoff = ALIGN16(68 + 16) - 14 = 82,
 * for an in-band tagged one 78 (+4 bytes of tag): 96 + MTU either way.
 */
import assert from "node:assert/strict";
import type { RingOptions } from "../../src/config/schema.ts";
import fc from "fast-check";
import {
  DEFAULT_BLOCK_SIZE,
  DEFAULT_RATE_PPS,
  DEFAULT_RETIRE_MS,
  DEFAULT_TX_FRAMES,
  HOLD_MS,
  MAX_RX_RING_BYTES,
  MIN_RX_FRAMES,
  rxGeometry,
  txGeometry,
} from "../../src/supervisor/ring_geometry.ts";

const PAGE = 4096;

/** Largest frames (MTU-sized IPv4 packet, optionally one in-band VLAN tag) one block holds, per the kernel. */
function largestFramesPerBlock(blockSize: number, mtu: number): number {
  const slot = Math.ceil((96 + mtu) / 8) * 8;
  return Math.floor((blockSize - 48) / slot);
}

/** The TPACKET_V3 (rx_mode: blocks) geometry these block tests specify. */
function blockGeometry(rate: number | undefined, mtu: number, opts: RingOptions = {}) {
  return rxGeometry(rate, mtu, { ...opts, rx_mode: "blocks" });
}

Deno.test("rxGeometry() in blocks mode holds 200 ms of largest frames at the declared rate, up to the per-ring cap", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 10_000_000 }),
      fc.constantFrom(576, 1280, 1500, 4000, 9000),
      fc.constantFrom(undefined, 64, 128, 256, 1024),
      (rate, mtu, blockKib) => {
        const g = blockGeometry(
          rate,
          mtu,
          blockKib === undefined ? {} : { block_size_kib: blockKib },
        );
        const capacity = g.blockCount * largestFramesPerBlock(g.blockSize, mtu);
        assert.ok(g.bytes <= MAX_RX_RING_BYTES, "every ring fits the worker arena");
        if (g.blockCount === Math.floor(MAX_RX_RING_BYTES / g.blockSize)) return; // capped: as much as fits
        assert.ok(
          capacity >= rate * HOLD_MS / 1000,
          `${rate} pps, MTU ${mtu}: ${g.blockCount} blocks x ${g.blockSize} B hold ${capacity} frames`,
        );
      },
    ),
  );
});

Deno.test("rxGeometry() in blocks mode makes a block hold at least one full-size frame, whatever block_size_kib says", () => {
  const g = blockGeometry(1000, 9000, { block_size_kib: 4 });
  assert.ok(largestFramesPerBlock(g.blockSize, 9000) >= 1, `${g.blockSize} B blocks`);
});

Deno.test("rxGeometry() in blocks mode has block_count x retire_ms >= 200 ms even at low rates", () => {
  for (const retire of [1, 2, 3, 7, 10, 50, 200, 1000]) {
    for (const rate of [1, 100, 10_000]) {
      const g = blockGeometry(rate, 1500, { retire_ms: retire });
      assert.equal(g.retireMs, retire);
      assert.ok(
        g.blockCount * g.retireMs >= HOLD_MS,
        `retire ${retire} ms: ${g.blockCount} blocks`,
      );
    }
  }
  const g = blockGeometry(1, 1500);
  assert.equal(g.retireMs, DEFAULT_RETIRE_MS);
  assert.ok(g.blockCount * g.retireMs >= HOLD_MS);
});

Deno.test("rxGeometry() in blocks mode sizes for the default rate when no rule declares one", () => {
  assert.deepEqual(blockGeometry(undefined, 1500), blockGeometry(DEFAULT_RATE_PPS, 1500));
});

Deno.test("rxGeometry() in blocks mode meets the kernel's TPACKET_V3 constraints", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 1_000_000 }),
      fc.integer({ min: 68, max: 9216 }),
      fc.option(fc.constantFrom(4, 8, 64, 128, 4096), { nil: undefined }),
      (rate, mtu, blockKib) => {
        const g = blockGeometry(
          rate,
          mtu,
          blockKib === undefined ? {} : { block_size_kib: blockKib },
        );
        assert.equal(g.blockSize % PAGE, 0, "block size a multiple of the page size");
        assert.equal(g.frameSize % 16, 0, "frame size a multiple of TPACKET_ALIGNMENT");
        assert.ok(
          g.frameSize >= 68 && g.frameSize <= g.blockSize,
          "TPACKET3_HDRLEN <= frame size <= block size",
        );
        assert.ok(Number.isInteger(g.blockCount) && g.blockCount >= 2);
        assert.equal(g.bytes, g.blockSize * g.blockCount);
      },
    ),
  );
});

Deno.test("rxGeometry() in blocks mode with default blocks holds at least one largest frame per block up to MTU 9000", () => {
  for (const mtu of [1500, 9000]) {
    assert.ok(largestFramesPerBlock(blockGeometry(1000, mtu).blockSize, mtu) >= 1);
  }
  assert.equal(blockGeometry(1000, 1500).blockSize, DEFAULT_BLOCK_SIZE);
});

Deno.test("rxGeometry() in blocks mode honours block size, block count and retire overrides", () => {
  const g = blockGeometry(5_000_000, 1500, { block_size_kib: 256, block_count: 3, retire_ms: 20 });
  assert.equal(g.blockSize, 256 * 1024);
  assert.equal(g.blockCount, 3, "an explicit block_count wins even when it holds less than 200 ms");
  assert.equal(g.retireMs, 20);
  assert.equal(g.bytes, 3 * 256 * 1024);
});

Deno.test("rxGeometry() in blocks mode grows with the declared rate", () => {
  const slow = blockGeometry(10_000, 1500);
  const fast = blockGeometry(1_000_000, 1500);
  assert.ok(fast.bytes > slow.bytes);
});

Deno.test("txGeometry() uses power-of-two frames that fit an MTU-sized frame after the 32-byte header", () => {
  for (const mtu of [68, 1500, 2000, 4000, 9000]) {
    const g = txGeometry(mtu);
    assert.ok(
      g.frameSize >= 2048 && (g.frameSize & (g.frameSize - 1)) === 0,
      `MTU ${mtu}: frame ${g.frameSize}`,
    );
    assert.ok(g.frameSize - 32 >= mtu + 14, `MTU ${mtu}: ${g.frameSize - 32} data bytes`);
    assert.ok(
      g.frameSize / 2 < 32 + mtu + 14 || g.frameSize === 2048,
      "the smallest such power of two",
    );
    assert.equal(g.bytes % PAGE, 0);
    assert.ok(g.bytes >= g.frameSize * g.frameCount);
  }
  assert.equal(txGeometry(1500).frameCount, DEFAULT_TX_FRAMES);
  assert.equal(txGeometry(1500).qdiscBypass, false);
});

Deno.test("txGeometry() honours tx_frames and qdisc_bypass", () => {
  const g = txGeometry(1500, { tx_frames: 100, qdisc_bypass: true });
  assert.equal(g.frameCount, 100);
  assert.equal(g.qdiscBypass, true);
  assert.equal(g.bytes, Math.ceil(100 * 2048 / PAGE) * PAGE);
});

Deno.test("rxGeometry() in frames mode (the default): one power-of-two frame per packet holding a full frame, frames tiling the blocks, 200 ms at the rate", () => {
  for (const mtu of [1500, 9000]) {
    for (const rate of [undefined, 1000, 100_000, 1_000_000]) {
      const g = rxGeometry(rate, mtu);
      assert.equal(g.frames, true);
      assert.ok(
        g.frameSize >= mtu + 14 + 4 + 64,
        `frame ${g.frameSize} holds an MTU ${mtu} frame and its header`,
      );
      assert.equal(g.frameSize & (g.frameSize - 1), 0, "a power of two");
      assert.equal(g.blockSize % g.frameSize, 0, "frames tile a block");
      assert.equal(g.blockSize % 4096, 0);
      const frames = (g.blockSize / g.frameSize) * g.blockCount;
      const wanted = Math.max(
        MIN_RX_FRAMES,
        Math.ceil((rate ?? DEFAULT_RATE_PPS) * HOLD_MS / 1000),
      );
      assert.ok(
        frames >= wanted || g.bytes > MAX_RX_RING_BYTES - g.blockSize,
        `${frames} frames for ${rate} pps`,
      );
      assert.ok(g.bytes <= MAX_RX_RING_BYTES);
    }
  }
});

Deno.test("rxGeometry() for a gso input: slots that hold a whole 64 KiB GSO frame after its segmentation header, in both modes", () => {
  for (const rx_mode of ["frames", "blocks"] as const) {
    const g = rxGeometry(undefined, 1500, { rx_mode }, true);
    assert.equal(g.vnet, true, rx_mode);
    // frames: one slot per packet; blocks: a packet must fit a block.
    const slot = rx_mode === "frames" ? g.frameSize : g.blockSize;
    assert.ok(slot >= 65536 + 10 + 14, `${rx_mode}: ${slot} bytes`);
    assert.ok(g.bytes <= MAX_RX_RING_BYTES, `${rx_mode}: within the per-ring cap (${g.bytes})`);
  }
  assert.equal(
    rxGeometry(undefined, 1500, {}).vnet,
    undefined,
    "no segmentation header without gso",
  );
});
