/**
 * Adaptive wake-ups (ring.nap_us): whether the loop is woken per packet or
 * naps between batches, decided once per turn.
 *
 * Woken per packet, every packet pays for a wake-up; napping, the packets of a
 * nap period share one (a timer's, which costs more than a packet's: arming
 * the timer and its interrupt both exit to the hypervisor on a VM), for up to
 * a period more latency. A period is what a nap asks for plus the batch's
 * kicks and the host's lateness: about nap_us + 50 µs on the 2-CPU VM.
 *
 * The rule: a turn that takes NAP_ENTER_FRAMES frames or more (packets came
 * several times faster than the loop turned around) starts naps; a nap that
 * brings fewer than NAP_STAY_FRAMES, or a turn that finds nothing, goes back
 * to a wake-up per packet. A rule on the measured arrival rate instead (nap
 * from 3 packets per measured period, ~30k pps) was built and measured
 * against this one (README "Efficiency"): 2-32 % less CPU from 30k to 50k
 * pps, for a median 10-50 µs higher, missing the 60 µs target at 50k pps by
 * more; not taken.
 *
 * Per turn, not per packet; nothing here allocates (the period's start lives
 * in LoopState.napTimes).
 */
import { W } from "../stats/registry.ts";
import type { LoopState } from "./loop_state.ts";

/**
 * Naps start when one turn takes at least this many frames: packets come
 * several times faster than the loop is woken and turns around (on the 2-CPU
 * VM: from about 60k pps of 256 B; below, a timer nap costs more than the
 * packet wake-up it saves).
 */
export const NAP_ENTER_FRAMES = 6;
/**
 * Naps go on while each brings at least this many frames (one per 12 µs at
 * the default 50 µs: about 80k pps); fewer, and the loop is woken per packet
 * again, where the latency is lower and a wake-up costs about what a nap does.
 */
export const NAP_STAY_FRAMES = 4;
/** A nap shorter than this (µs) is not worth its system call: the loop goes on at once. */
const MIN_NAP_US = 5;

const W_NAPS = W.loop_naps;
const W_NAP_US = W.loop_nap_us;

/** LoopState.napTimes slot (µs): when the current nap period began (the last wake-up). */
const PERIOD_START = 0;

/** A loop (re)starting is woken per packet. */
export function resetNaps(s: LoopState, nowUs: number): void {
  s.napping = false;
  s.napTimes[PERIOD_START] = nowUs;
}

/**
 * After a turn that found frames (s.turnFrames of them), at nowUs: starts or
 * ends naps, and naps to the end of the period when napping (the nap sends the
 * batch's kicks). Returns true when it napped (s.clockUs then holds the time
 * after the nap). Not napping, the batch's kicks went with the turn's flush.
 */
export function napAfterBatch(s: LoopState, nowUs: number): boolean {
  const t = s.napTimes;
  if (!s.napping) {
    if (s.turnFrames < NAP_ENTER_FRAMES) return false;
    s.napping = true;
    t[PERIOD_START] = nowUs;
  } else if (s.turnFrames < NAP_STAY_FRAMES) {
    // A nap brought few packets: they come too slowly for naps to pay. Back to a
    // wake-up per packet (this batch's kicks go now).
    s.napping = false;
    s.kicker.submit();
    return false;
  }
  // Napping: sleep to the end of this period; a batch that took the whole period or more goes
  // on at once (overload).
  const left = t[PERIOD_START] + s.napUs - nowUs;
  if (left < MIN_NAP_US) {
    s.kicker.submit();
    t[PERIOD_START] = nowUs;
    return false;
  }
  s.kicker.nap(left | 0);
  const wc = s.workerCounters;
  wc[W_NAPS] += 1;
  const clockUs = s.clockUs;
  s.clock.read(clockUs);
  // What the nap took: its kicks, the sleep, and however late the host woke the loop.
  wc[W_NAP_US] += clockUs[0] - nowUs;
  // The next period starts at this wake-up, however long the nap took.
  t[PERIOD_START] = clockUs[0];
  return true;
}

/** After a turn that found nothing (or while a predecessor retires): back to a wake-up per packet. */
export function stopNapping(s: LoopState): void {
  if (!s.napping) return;
  s.napping = false;
  s.kicker.submit();
}
