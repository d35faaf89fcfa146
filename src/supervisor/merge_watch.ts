/**
 * The merged pairs, as the supervisor sees them: once a second it reads
 * each pair's block (src/merge/merge_readout.ts), keeps the counters' recent
 * past (for path diversity and the recent losses health is judged on), and
 * sends to the event stream every leg going down or up, every change of the
 * active leg (failover; from the block's switch log, so none is missed
 * between two readings), every restart followed, and every change of the
 * pair's state. The manual lock of a failover pair is written here into its
 * block, where the worker merging it reads it with the next datagram. It
 * never touches packets.
 */
import type { Rule } from "../config/schema.ts";
import { type MergeReport, mergeReport } from "../merge/merge_readout.ts";
import { blockViews, CONTROL_LOCK, M } from "../merge/merge_slots.ts";
import { UnknownRuleError } from "../stats/health.ts";
import { MergeLockError } from "./errors.ts";

/** A merge rule of the configuration in force and its block. */
export interface MergedRule {
  rule: Rule;
  block: { block: SharedArrayBuffer; tableSize: number; epoch: number };
}

/** Health looks at losses and late copies this recent. */
export const RECENT_S = 10;

interface Sample {
  atMs: number;
  lost: number;
  late: number;
  single: number;
  multi: number;
}

interface Watched {
  epoch: number;
  samples: Sample[];
  legs: string[];
  state: string;
  switches: number;
  resyncs: number;
}

export class MergeWatch {
  #watched = new Map<string, Watched>();
  /** Failover locks the operator set, by rule. */
  #locks = new Map<string, number>();

  constructor(readonly onEvent: (data: Record<string, unknown>) => void) {}

  #history(w: Watched | undefined, rule: Rule, now: Sample) {
    const samples = w?.samples ?? [];
    const windowS = rule.merge!.diversity_window_s ?? 60;
    const since = (s: number) =>
      samples.find((x) => x.atMs >= now.atMs - s * 1000) ?? samples[0] ?? now;
    const d = since(windowS);
    const r = since(RECENT_S);
    return {
      single: now.single - d.single,
      multi: now.multi - d.multi,
      lost: now.lost - r.lost,
      late: now.late - r.late,
      recentS: RECENT_S,
    };
  }

  #sampleOf(m: MergedRule, atMs: number): Sample {
    const f = blockViews(m.block.block, m.block.tableSize).figures;
    return {
      atMs,
      lost: f[M.lost],
      late: f[M.late],
      single: f[M.lost_single],
      multi: f[M.lost_multi],
    };
  }

  /** Once a second: the recent past, and an event for every change. */
  sample(merged: readonly MergedRule[], nowMs: number): void {
    const names = new Set<string>();
    for (const m of merged) {
      const name = m.rule.name;
      names.add(name);
      let w = this.#watched.get(name);
      if (w !== undefined && w.epoch !== m.block.epoch) w = undefined; // a fresh merge
      const now = this.#sampleOf(m, nowMs);
      const report = mergeReport(m.rule, m.block, nowMs, this.#history(w, m.rule, now));
      const samples = [...(w?.samples ?? []), now];
      const keepS = Math.max(m.rule.merge!.diversity_window_s ?? 60, RECENT_S) + 2;
      while (samples.length > 1 && samples[0].atMs < nowMs - keepS * 1000) samples.shift();
      const next: Watched = {
        epoch: m.block.epoch,
        samples,
        legs: report.legs.map((l) => l.state),
        state: report.state,
        switches: report.figures.switches,
        resyncs: report.figures.resyncs,
      };
      if (w !== undefined) this.#events(name, w, next, report);
      this.#watched.set(name, next);
    }
    for (const name of [...this.#watched.keys()]) if (!names.has(name)) this.#watched.delete(name);
  }

  #events(rule: string, before: Watched, now: Watched, report: MergeReport): void {
    report.legs.forEach((l, i) => {
      if (before.legs[i] !== undefined && before.legs[i] !== l.state) {
        this.onEvent({
          rule,
          event: `leg_${l.state}`,
          leg: i,
          interface: l.interface,
          last_packet_age_ms: l.last_packet_age_ms,
        });
      }
    });
    // Every change of the active leg since the last reading, from the switch log.
    const fresh = report.switches.slice(
      Math.max(0, report.switches.length - (now.switches - before.switches)),
    );
    for (const s of fresh) this.onEvent({ rule, event: "switch", ...s });
    if (now.resyncs > before.resyncs) {
      this.onEvent({ rule, event: "resync", count: now.resyncs - before.resyncs });
    }
    if (now.state !== before.state) {
      this.onEvent({
        rule,
        event: "state",
        from: before.state,
        to: now.state,
        reasons: report.reasons,
      });
    }
  }

  /** Reports of the merged rules (one, when `rule` is given), now. */
  reports(merged: readonly MergedRule[], nowMs: number, rule?: string): MergeReport[] {
    return merged.filter((m) => rule === undefined || m.rule.name === rule).map((m) => {
      const w = this.#watched.get(m.rule.name);
      const now = this.#sampleOf(m, nowMs);
      return mergeReport(
        m.rule,
        m.block,
        nowMs,
        this.#history(w?.epoch === m.block.epoch ? w : undefined, m.rule, now),
      );
    });
  }

  /**
   * Failover: makes the worker merging `rule` send `leg` alone until
   * unlocked (null), with its next datagram. The lock is kept across
   * configuration changes while the rule stays a failover merge with that leg.
   */
  lock(merged: readonly MergedRule[], rule: string, leg: number | null): void {
    const m = merged.find((x) => x.rule.name === rule);
    if (m === undefined) throw new UnknownRuleError(rule);
    const merge = m.rule.merge!;
    if ((merge.mode ?? "pass-through") !== "failover") {
      throw new MergeLockError(
        `rule "${rule}" is not a failover merge: only failover has an active leg`,
      );
    }
    if (leg !== null && (leg < 0 || leg >= merge.legs.length)) {
      throw new MergeLockError(`rule "${rule}" has legs 0..${merge.legs.length - 1}, not ${leg}`);
    }
    if (leg === null) this.#locks.delete(rule);
    else this.#locks.set(rule, leg);
    writeLock(m, leg);
    this.onEvent({ rule, event: leg === null ? "unlocked" : "locked", leg });
  }

  /**
   * Writes the locks into the blocks of `merged` (a changed merge has a new
   * block); `forget`: they are in force, drop the locks of rules that are
   * no longer failover merges with that leg.
   */
  relock(merged: readonly MergedRule[], forget: boolean): void {
    for (const [name, leg] of this.#locks) {
      const m = merged.find((x) => x.rule.name === name);
      if (m?.rule.merge?.mode !== "failover" || leg >= m.rule.merge.legs.length) {
        if (forget) this.#locks.delete(name);
        continue;
      }
      writeLock(m, leg);
    }
  }
}

function writeLock(m: MergedRule, leg: number | null): void {
  Atomics.store(blockViews(m.block.block, m.block.tableSize).control, CONTROL_LOCK, leg ?? -1);
}

/** The merge rules among `rules` and the blocks `assigned` gives them. */
export function mergedRules(
  rules: readonly Rule[],
  assigned: ReadonlyMap<string, { merge?: MergedRule["block"] }>,
): MergedRule[] {
  const out: MergedRule[] = [];
  for (const rule of rules) {
    const block = assigned.get(rule.name)?.merge;
    if (rule.merge !== undefined && block !== undefined) out.push({ rule, block });
  }
  return out;
}
