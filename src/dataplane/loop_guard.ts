/**
 * Loop guard: how a rule whose outputs write a fixed TTL (`ttl` set, or a
 * routed output) stops a packet that comes back to it through a forwarding
 * loop built outside the relay. (Outputs without `ttl` need none: they write
 * the input's TTL minus one, so a loop ends when the TTL runs out.)
 *
 * Each relayed datagram leaves a signature of what no relay changes (IPv4
 * identification or IPv6 flow label, UDP source port and length, the first
 * 32 payload bytes) in the rule's small table. A datagram that comes back
 * carries a source address this relay writes (an output's source); one
 * that does, with a signature the rule relayed within GUARD_WINDOW_MS, is a
 * return: dropped and counted as `loop`. Only such datagrams are looked up,
 * so a sender that repeats identical datagrams (MPEG-TS stuffing, IP id 0)
 * is never mistaken for a loop. Collisions only overwrite (a loop is then
 * stopped one turn later).
 */
export const GUARD_SLOTS = 256;
export const GUARD_WINDOW_MS = 100;

export class LoopGuard {
  readonly signatures = new Int32Array(GUARD_SLOTS);
  readonly times = new Float64Array(GUARD_SLOTS);
}

/** Signature of a UDP datagram (ip, udp: absolute offsets; udpLen already checked against the frame). */
export function signature(
  view: DataView,
  family: number,
  ip: number,
  udp: number,
  udpLen: number,
): number {
  let h = family === 4 ? view.getUint16(ip + 4) : view.getUint32(ip) & 0xfffff;
  h = Math.imul(h ^ view.getUint16(udp), 0x9e3779b1) ^ udpLen;
  const end = udp + Math.min(udpLen, 8 + 32);
  for (let p = udp + 8; p + 4 <= end; p += 4) {
    h = Math.imul(h ^ view.getInt32(p), 0x85ebca6b) ^ (h >>> 13);
  }
  return h | 0;
}

/**
 * True if `sig` was relayed within the window and the datagram's source is
 * one this relay writes (`ours`): a return. Otherwise records it as relayed now.
 */
export function returned(guard: LoopGuard, sig: number, ours: boolean, nowMs: number): boolean {
  const i = (sig ^ (sig >>> 8) ^ (sig >>> 16)) & (GUARD_SLOTS - 1);
  if (
    ours && guard.signatures[i] === sig && guard.times[i] !== 0 &&
    nowMs - guard.times[i] <= GUARD_WINDOW_MS
  ) {
    return true;
  }
  guard.signatures[i] = sig;
  guard.times[i] = nowMs;
  return false;
}
