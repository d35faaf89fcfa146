/**
 * Ring geometry, computed in one place from the configuration.
 *
 * RX (TPACKET_V3): packets are packed into blocks; the kernel hands a block
 * to user space when it is full or when its retire timeout expires. So a ring
 * must be sized in TIME, two ways:
 *  - bytes:  at the expected rate it must hold HOLD_MS of traffic while the
 *            worker is busy or descheduled: rate * HOLD_MS * bytes per packet;
 *  - blocks: at low rates every block is retired after retire_ms however
 *            little it holds, so block_count * retire_ms must also cover
 *            HOLD_MS (measured: 64 blocks x 1 ms overflowed near saturation,
 *            512 held; see shared FACTS).
 * TX (TPACKET_V2): fixed-size frames; one frame per copy.
 */
import type { RingOptions } from "../config/schema.ts";
import type { RxGeometry, TxGeometry, WorkerPlan } from "../dataplane/plan_types.ts";
import { VNET_HDR_LEN } from "../dataplane/gso.ts";
import { TP2_DATA } from "../../ffi/layout.ts";
import { ARENA_BYTES } from "../../ffi/arena.ts";
import { ETH_HLEN, VLAN_HLEN } from "../net/headers.ts";

export type { RxGeometry, TxGeometry } from "../dataplane/plan_types.ts";

/** How long an RX ring must be able to buffer input, in milliseconds. */
export const HOLD_MS = 200;
/** Expected input rate when no rule declares rate_pps. */
export const DEFAULT_RATE_PPS = 100_000;
export const DEFAULT_BLOCK_SIZE = 128 * 1024;
export const DEFAULT_RETIRE_MS = 1;
export const DEFAULT_TX_FRAMES = 4096;
/** Adaptive wake-ups: the longest nap between batches (µs), what it may add to a packet. */
export const DEFAULT_NAP_US = 50;
/**
 * Largest RX ring derived from rates: 64 MiB holds 200 ms of ~40k pps of
 * full 1500-byte frames, or far more of small ones (the worker arena is
 * 1 GiB and holds every ring; the supervisor refuses plans over its budget).
 */
export const MAX_RX_RING_BYTES = 64 * 1024 * 1024;
/** Per-packet overhead inside a V3 block: tpacket3_hdr + sockaddr_ll + alignment (TPACKET_ALIGN 16). */
const V3_PACKET_OVERHEAD = 96;
const PAGE = 4096;

function roundUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

/** Largest packet a GSO sender hands the link (gso_max_size); the segmentation header before it is gso.ts VNET_HDR_LEN. */
export const GSO_MAX_BYTES = 65536;

/**
 * RX geometry for an input interface whose rules expect `ratePps` in total
 * (DEFAULT_RATE_PPS when none declares it) and whose MTU is `mtu`. With
 * `gso` (a rule's input sets it) every slot holds a whole GSO packet and its
 * segmentation header (PACKET_VNET_HDR).
 */
export function rxGeometry(
  ratePps: number | undefined,
  mtu: number,
  opts: RingOptions = {},
  gso = false,
): RxGeometry {
  if (gso) {
    return {
      ...rxGeometry(
        ratePps,
        Math.max(mtu, GSO_MAX_BYTES - ETH_HLEN - VLAN_HLEN) + VNET_HDR_LEN,
        opts,
      ),
      vnet: true,
    };
  }
  if ((opts.rx_mode ?? "frames") === "frames") return rxFrameGeometry(ratePps, mtu, opts);
  const retireMs = opts.retire_ms ?? DEFAULT_RETIRE_MS;
  // The largest frame (with a VLAN tag) and its ring overhead.
  const packetBytes = roundUp(mtu + ETH_HLEN + VLAN_HLEN + V3_PACKET_OVERHEAD, 16);
  // A block must hold at least one full-size frame, or large frames are truncated.
  let blockSize = opts.block_size_kib ? opts.block_size_kib * 1024 : DEFAULT_BLOCK_SIZE;
  while (blockSize < packetBytes) blockSize *= 2;
  const rate = ratePps ?? DEFAULT_RATE_PPS;
  const packetsPerBlock = Math.max(1, Math.floor(blockSize / packetBytes));
  const forBytes = Math.ceil((rate * HOLD_MS / 1000) / packetsPerBlock);
  const forTime = Math.ceil(HOLD_MS / retireMs);
  // Derived sizes are capped so that every ring of a worker fits its arena;
  // an explicit block_count is taken as given (the arena reports exhaustion).
  const derived = Math.min(
    Math.max(forBytes, forTime, 8),
    Math.floor(MAX_RX_RING_BYTES / blockSize),
  );
  const blockCount = opts.block_count ?? derived;
  return {
    frames: false,
    blockSize,
    blockCount,
    frameSize: 2048 <= blockSize ? 2048 : blockSize,
    retireMs,
    bytes: blockSize * blockCount,
  };
}

/** Frames that must fit in an RX frames ring at least (a burst the loop may meet after a pause). */
export const MIN_RX_FRAMES = 4096;
/** TPACKET2_HDRLEN (52) rounded up to TPACKET_ALIGNMENT, plus the alignment of the MAC header. */
const V2_FRAME_OVERHEAD = 64 + 16;

/**
 * TPACKET_V2 RX geometry: one frame per packet, a power of two holding a
 * full-size frame (+VLAN tag); enough frames for HOLD_MS at the expected
 * rate (at least MIN_RX_FRAMES); frames tile 64 KiB (or frame-size) blocks.
 */
function rxFrameGeometry(ratePps: number | undefined, mtu: number, opts: RingOptions): RxGeometry {
  let frameSize = 2048;
  while (frameSize < mtu + ETH_HLEN + VLAN_HLEN + V2_FRAME_OVERHEAD) frameSize *= 2;
  let blockSize = opts.block_size_kib ? opts.block_size_kib * 1024 : 64 * 1024;
  while (blockSize < frameSize) blockSize *= 2;
  const perBlock = blockSize / frameSize;
  const rate = ratePps ?? DEFAULT_RATE_PPS;
  const frames = Math.max(MIN_RX_FRAMES, Math.ceil(rate * HOLD_MS / 1000));
  const derived = Math.min(Math.ceil(frames / perBlock), Math.floor(MAX_RX_RING_BYTES / blockSize));
  const blockCount = opts.block_count ?? derived;
  return {
    frames: true,
    blockSize,
    blockCount,
    frameSize,
    retireMs: opts.retire_ms ?? DEFAULT_RETIRE_MS,
    bytes: blockSize * blockCount,
  };
}

/** TX geometry for an output interface with MTU `mtu`. */
export function txGeometry(mtu: number, opts: RingOptions = {}): TxGeometry {
  // Frame = tpacket2 header + Ethernet frame, rounded to a power of two.
  let frameSize = 2048;
  while (frameSize < TP2_DATA + mtu + ETH_HLEN) frameSize *= 2;
  const frameCount = opts.tx_frames ?? DEFAULT_TX_FRAMES;
  return {
    frameSize,
    frameCount,
    bytes: roundUp(frameSize * frameCount, PAGE),
    qdiscBypass: opts.qdisc_bypass ?? false,
  };
}

/** Ring memory one worker may map (its arena is 1 GiB; the rest is headroom for re-creation). */
export const MAX_WORKER_RING_BYTES = Math.floor(ARENA_BYTES * 0.75);

/** Bytes of rings and batch areas a plan makes every worker map. */
export function planRingBytes(plan: WorkerPlan): number {
  let bytes = 0;
  for (const rx of plan.rx) bytes += rx.geometry.bytes;
  for (const tx of plan.tx) bytes += tx.geometry.bytes;
  for (const r of plan.rules) {
    for (const o of r.outputs) {
      if (o.egress === "routed") bytes += Math.ceil(o.maxPayload / 64) * 64 * 64;
    }
  }
  return bytes;
}
