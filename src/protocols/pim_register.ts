/**
 * The first-hop side of PIM-SM registering (RFC 7761 4.4.1), for streams
 * mcr relays whose group has an RP elsewhere, pure: the time is passed in,
 * Registers to send are collected in an outbox.
 *
 * mcr sends Null-Registers (no data encapsulated): enough for the RP to
 * learn the source, join toward it (the join reaches mcr, which adds the
 * output) and start its MSDP SA. Per (S,G): in Join state a Null-Register
 * every Register_Probe_Time; a Register-Stop from the RP moves it to Prune
 * for Register_Suppression_Time, with one probe Register_Probe_Time before
 * the end; no Register-Stop by then: back to Join. Data packets are never
 * encapsulated: until the RP joins, a receiver behind it gets nothing.
 */

export const REGISTER_SUPPRESSION_MS = 60_000;
export const REGISTER_PROBE_MS = 5_000;

export interface RegisterTarget {
  source: string;
  group: string;
  rp: string;
}

export interface RegisterState extends RegisterTarget {
  state: "join" | "prune";
  /** Registers sent for this (S,G) so far. */
  sent: number;
  stops: number;
}

interface Entry extends RegisterState {
  next: number;
  stopUntil: number;
}

export class RegisterSender {
  #entries = new Map<string, Entry>();
  outbox: RegisterTarget[] = [];

  constructor(
    readonly suppressionMs = REGISTER_SUPPRESSION_MS,
    readonly probeMs = REGISTER_PROBE_MS,
  ) {}

  /** The (S,G)s that should be registered now, with their RP; others are dropped. */
  update(targets: RegisterTarget[], now: number): void {
    const keep = new Set<string>();
    for (const t of targets) {
      const key = `${t.source}|${t.group}`;
      keep.add(key);
      const e = this.#entries.get(key);
      if (e && e.rp === t.rp) continue;
      this.#entries.set(key, { ...t, state: "join", sent: 0, stops: 0, next: now, stopUntil: 0 });
    }
    for (const key of this.#entries.keys()) if (!keep.has(key)) this.#entries.delete(key);
  }

  /** A Register-Stop from `from` (must be the RP of that (S,G)): registering is suppressed. */
  receiveStop(from: string, group: string, source: string, now: number): boolean {
    const e = this.#entries.get(`${source}|${group}`);
    if (!e || e.rp !== from) return false;
    e.state = "prune";
    e.stops++;
    e.stopUntil = now + this.suppressionMs;
    e.next = e.stopUntil - this.probeMs;
    return true;
  }

  tick(now: number): void {
    for (const e of this.#entries.values()) {
      if (e.state === "prune" && now >= e.stopUntil) {
        e.state = "join"; // no Register-Stop answered the probe
        e.next = now;
      }
      if (now < e.next) continue;
      this.outbox.push({ source: e.source, group: e.group, rp: e.rp });
      e.sent++;
      e.next = e.state === "join" ? now + this.probeMs : e.stopUntil + 1; // one probe per suppression period
    }
  }

  nextDue(now: number): number {
    let due = Infinity;
    for (const e of this.#entries.values()) {
      due = Math.min(due, e.next, e.state === "prune" ? e.stopUntil : Infinity);
    }
    return Math.max(now, due);
  }

  states(): RegisterState[] {
    return [...this.#entries.values()].map(({ source, group, rp, state, sent, stops }) => ({
      source,
      group,
      rp,
      state,
      sent,
      stops,
    }));
  }
}
