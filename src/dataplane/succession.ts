/**
 * Ring succession: how an RX ring hands an interface over to its successor
 * (a new worker count, a new fanout group, a new ring geometry) without a
 * packet lost, sent twice or reordered within a flow.
 *
 * The successor is opened while the predecessor still forwards, in a NEW
 * fanout group (or none), so for a while every packet lands in both rings.
 * The kernel stamps each packet once when it enters the stack (c/ring.c:
 * SO_TIMESTAMPNS), so both copies carry the same receive time. Then:
 *
 *   1. held:    the successor is open but not read; the predecessor forwards.
 *   2. cut T:   (T a little in the future) the predecessor forwards what was
 *               stamped before T and skips the rest; once T + SETTLE_US has
 *               passed and it has nothing ready, it is retired and closed.
 *   3. release: when EVERY worker has retired its predecessors, successors
 *               are read: they skip what was stamped before T (already sent)
 *               and forward the rest, in order, after all of its flow's
 *               earlier packets went out.
 *
 * Each packet is forwarded exactly once, by the ring its stamp assigns it
 * to; per-flow order holds because no successor forwards before every
 * predecessor has finished. The cost is a short hold (about SETTLE_US plus a
 * message round trip) of packets arriving during the cut, never a loss.
 */
import type { InputPort } from "./rule_table.ts";

/** A ring read normally. */
export const CUT_NONE = 0;
/** A predecessor after the cut: forwards packets stamped before cutUs. */
export const CUT_BEFORE = 1;
/** A successor before the release: not read at all. */
export const CUT_HELD = 2;
/** A successor after the release: forwards packets stamped at or after cutUs. */
export const CUT_AFTER = 3;
/** A predecessor that has forwarded all it has to: its ring can be closed. */
export const CUT_RETIRED = 4;

/**
 * How long after the cut a packet stamped before it may still be on its way
 * into a ring (the kernel stamps on entry, writes the ring a little later,
 * later still under load: softirq backlog).
 */
export const SETTLE_US = 20_000;

/** Puts a port on one side of the cut at cutUs (µs, CLOCK_REALTIME, like the ring stamps). */
export function cutAt(port: InputPort, mode: number, cutUs: number): void {
  port.cut = mode;
  port.cutUs = cutUs;
  port.settleUs = cutUs + SETTLE_US;
}

/**
 * Whether the packet stamped `us` is this port's to forward (only called
 * when port.cut is CUT_BEFORE or CUT_AFTER). A successor keeps skipping
 * what was stamped before its cut until its next succession: a ring is not
 * filled in strict stamp order (packets of several CPUs' backlogs), so no
 * packet seen proves that no earlier-stamped one is still to come.
 */
export function admit(port: InputPort, us: number): boolean {
  return port.cut === CUT_BEFORE ? us < port.cutUs : us >= port.cutUs;
}

/**
 * Whether a predecessor has finished: the settle time has passed and its
 * ring has nothing ready. (Under an overload that never lets the ring
 * empty, the pool's step timeout releases the successors anyway, and what
 * the predecessor still held is lost, as with any ring closed.)
 */
export function finished(port: InputPort, nowUs: number, ready: boolean): boolean {
  return port.cut === CUT_BEFORE && nowUs >= port.settleUs && !ready;
}
