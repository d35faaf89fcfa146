/**
 * Stages "tx" and "flush" of the forwarding loop: a copy of the current
 * packet (parse.ts FRAME) rewritten into its output's next TX frame, or its
 * UDP payload batched for a routed output's socket; then one io_uring
 * submission that kicks every TX ring the batch filled and one sendmmsg per
 * routed batch. Nothing here allocates or throws; every copy that is not
 * sent is counted per output and per worker.
 */
import * as L from "../../ffi/layout.ts";
import * as H from "../net/headers.ts";
import { OUT, OUTPUT_SLOTS, W } from "../stats/registry.ts";
import type { LoopState } from "./loop_state.ts";
import * as P from "./parse.ts";
import { outputFrameLength, rewriteInto } from "./rewrite.ts";
import { queueTxFrame, txFrameFree, txFrameStatus } from "./ring_handoff.ts";
import type { Output, RoutedPort } from "./rule_table.ts";

// Other modules' constants as module-local aliases: V8 folds these into the per-packet code,
// not imported bindings (bench/loop_bench.ts measured ~25 % more per packet with imports).
const F_UDP = P.F_UDP;
const F_UDP_LEN = P.F_UDP_LEN;
const FRAME = P.FRAME;

const TP2_DATA = L.TP2_DATA;
const TP_STATUS_WRONG_FORMAT = L.TP_STATUS_WRONG_FORMAT;

const UDP_HLEN = H.UDP_HLEN;
const VLAN_HLEN = H.VLAN_HLEN;

const OUT_PACKETS = OUT.packets;
const OUT_BYTES = OUT.bytes;
const OUT_RING_FULL = OUT.ring_full;
const OUT_TOO_BIG = OUT.too_big;
const OUT_ERRORS = OUT.errors;
const W_TX_SENT = W.tx_sent;
const W_TX_BYTES = W.tx_bytes;
const W_TX_RING_FULL = W.tx_ring_full;
const W_TX_ERRORS = W.tx_errors;
const W_TX_TOO_BIG = W.tx_too_big;
const W_ROUTED_BATCHES = W.routed_batches;
const W_LAST_ROUTED_ERRNO = W.last_routed_errno;

/**
 * Claims the output's next TX frame, rewrites the packet into it and hands
 * it to the kernel (sent at the next flush). Returns 1 if queued, 0 if
 * dropped (counted).
 */
export function emit(s: LoopState, out: Output, udpChecksum: number, srcDelta: number): number {
  const view = s.view;
  const tx = out.tx!;
  const oc = s.outputCounters;
  const wc = s.workerCounters;
  const o = out.slot * OUTPUT_SLOTS;
  // The MTU bounds the frame without its VLAN tag; the TX frame holds it with.
  const length = outputFrameLength(out);
  if (
    (out.vlan !== 0 ? length - VLAN_HLEN : length) > tx.maxFrame ||
    length > tx.frameSize - TP2_DATA
  ) {
    oc[o + OUT_TOO_BIG] += 1;
    wc[W_TX_TOO_BIG] += 1; // per copy, like tx_ring_full: the packet itself matched
    return 0;
  }
  const frame = tx.offset + tx.head * tx.frameSize;
  let status = txFrameStatus(view, frame);
  if (!txFrameFree(status)) {
    // Ring full: kick what is queued once and look again (on veth a frame
    // stays SENDING until the receiving CPU takes it).
    flush(s);
    status = txFrameStatus(view, frame);
    if (!txFrameFree(status)) {
      oc[o + OUT_RING_FULL] += 1;
      wc[W_TX_RING_FULL] += 1;
      return 0;
    }
  }
  // A frame the kernel refused earlier is counted and reused.
  if (status === TP_STATUS_WRONG_FORMAT) wc[W_TX_ERRORS] += 1;

  const written = rewriteInto(view, s.bytes, frame + TP2_DATA, out, udpChecksum, srcDelta);
  queueTxFrame(view, frame, written);
  tx.head = tx.head + 1 === tx.frameCount ? 0 : tx.head + 1;
  if (tx.pending++ === 0) s.dirty[s.dirtyCount++] = tx;

  oc[o + OUT_PACKETS] += 1;
  oc[o + OUT_BYTES] += written;
  wc[W_TX_SENT] += 1;
  wc[W_TX_BYTES] += written;
  return 1;
}

/**
 * A routed output: copies the UDP payload into the socket's next batch slot
 * (the kernel builds the headers). A full batch is sent at once. Returns 1
 * if batched, 0 if dropped (counted). Sends are counted in sendRouted(),
 * when the kernel has taken them.
 */
export function emitRouted(s: LoopState, out: Output): number {
  const r = out.routed!;
  const udp = FRAME[F_UDP];
  const payload = FRAME[F_UDP_LEN] - UDP_HLEN;
  if (payload > r.slotSize) {
    s.outputCounters[out.slot * OUTPUT_SLOTS + OUT_TOO_BIG] += 1;
    s.workerCounters[W_TX_TOO_BIG] += 1;
    return 0;
  }
  if (r.count === r.slots) sendRouted(s, r);
  s.bytes.copyWithin(
    r.dataOffset + r.count * r.slotSize,
    udp + UDP_HLEN,
    udp + UDP_HLEN + payload,
  );
  r.lengths[r.count++] = payload;
  if (!r.queued) {
    r.queued = true;
    s.dirtyRouted[s.dirtyRoutedCount++] = r;
  }
  return 1;
}

/** One sendmmsg for the routed port's batch; counts what the kernel took, refused or had no room for. */
function sendRouted(s: LoopState, r: RoutedPort): void {
  const n = r.count;
  if (n === 0) return;
  const res = s.sendResult;
  const sent = s.sender!.send(r, res);
  r.count = 0;
  const oc = s.outputCounters;
  const wc = s.workerCounters;
  const o = r.counterSlot * OUTPUT_SLOTS;
  wc[W_ROUTED_BATCHES] += 1;
  if (sent < 0) {
    // The whole call failed (bad arguments): every datagram is an error.
    oc[o + OUT_ERRORS] += n;
    wc[W_TX_ERRORS] += n;
    wc[W_LAST_ROUTED_ERRNO] = -sent;
    return;
  }
  oc[o + OUT_PACKETS] += sent;
  oc[o + OUT_BYTES] += res[3];
  wc[W_TX_SENT] += sent;
  wc[W_TX_BYTES] += res[3];
  if (res[0] !== 0) {
    oc[o + OUT_ERRORS] += res[0];
    wc[W_TX_ERRORS] += res[0];
  }
  if (res[2] !== 0) {
    oc[o + OUT_RING_FULL] += res[2];
    wc[W_TX_RING_FULL] += res[2];
  }
  if (res[1] !== 0) wc[W_LAST_ROUTED_ERRNO] = res[1];
}

/**
 * Stage "flush": one io_uring submission kicks every TX ring filled since the
 * last flush, and one sendmmsg per routed output sends its batch. With
 * `submit` false (the loop naps next) the kicks are only queued: the nap's
 * own io_uring_enter sends them.
 */
export function flush(s: LoopState, submit = true): void {
  const routed = s.dirtyRoutedCount;
  if (routed !== 0) {
    for (let i = 0; i < routed; i++) {
      const r = s.dirtyRouted[i];
      sendRouted(s, r);
      r.queued = false;
    }
    s.dirtyRoutedCount = 0;
  }
  const n = s.dirtyCount;
  if (n === 0) return;
  for (let i = 0; i < n; i++) {
    const tx = s.dirty[i];
    s.kicker.queueKick(tx.fd);
    tx.pending = 0;
  }
  s.dirtyCount = 0;
  if (submit) s.kicker.submit();
}
