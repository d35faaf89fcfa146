/**
 * Reading a merge back (the supervisor's side; pure): a pair's block and
 * its rule make one report: the pair's figures, each leg's state (up while
 * its last datagram is more recent than leg_timeout_ms) and figures, the
 * switch log, and the judgement:
 *   CRITICAL  sequence numbers lost on every leg (unrecoverable) recently;
 *   WARNING   a leg down, copies late (the path differential beyond the
 *             window), or the legs not diverse: most recent losses hit two
 *             legs at once (common-mode loss: the protection is not real).
 */
import { inputDestination, type Rule } from "../config/schema.ts";
import {
  blockViews,
  CONTROL_LOCK,
  L,
  LEG_BASE,
  LEG_FIGURES,
  LEG_SLOTS,
  M,
  PAIR_SLOTS,
  SWITCH_BASE,
  SWITCH_COLUMNS,
  SWITCH_LOG,
  SWITCH_REASONS,
} from "./merge_slots.ts";

export type MergeState = "ok" | "warning" | "critical";

export interface LegReport {
  leg: number;
  interface: string;
  destination: string;
  port: number | null;
  state: "up" | "down";
  /** ms since its last datagram (null: none yet). */
  last_packet_age_ms: number | null;
  /** Kernel receive time of its last datagram, ms since the epoch (0: none yet). */
  last_packet_ms: number;
  /** Counters and path differential (ms) of the leg (merge_slots.ts LEG_SLOTS). */
  [figure: string]: number | string | null;
}

export interface SwitchEntry {
  at_ms: number;
  from: number;
  to: number;
  reason: string;
}

export interface MergeReport {
  rule: string;
  mode: string;
  key: string;
  window_ms: number;
  state: MergeState;
  reasons: string[];
  /** Pair figures (merge_slots.ts PAIR_SLOTS, exported ones). */
  figures: Record<string, number>;
  /** Failover: the manual lock (-1: none). */
  locked_leg: number;
  legs: LegReport[];
  /** Losses over the diversity window: on one leg, on two or more, and the common-mode share. */
  diversity: { window_s: number; single: number; multi: number; common_mode: number | null };
  switches: SwitchEntry[];
}

/** What the judgement needs from the recent past (the supervisor's samples). */
export interface MergeHistory {
  /** Over the diversity window: losses on one leg, on several. */
  single: number;
  multi: number;
  /** Over the last `recentS` seconds: unrecoverable losses and late copies. */
  lost: number;
  late: number;
  recentS: number;
}

/** Common-mode loss above this share of at least DIVERSITY_MIN_LOSSES losses: not diverse. */
export const COMMON_MODE_LIMIT = 0.5;
export const DIVERSITY_MIN_LOSSES = 10;

const EXPORTED = PAIR_SLOTS.filter((s) => s.kind !== "state");
const LEG_EXPORTED = LEG_SLOTS.filter((s) => s.kind !== "state" && s.name !== "last_us");

/** The figures of a pair's block as numbers by name (the exported ones). */
export function pairFigures(figures: Float64Array): Record<string, number> {
  return Object.fromEntries(EXPORTED.map((s) => [s.name, figures[M[s.name]]]));
}

export function mergeReport(
  rule: Rule,
  block: { block: SharedArrayBuffer; tableSize: number },
  nowMs: number,
  history: MergeHistory,
): MergeReport {
  const m = rule.merge!;
  const v = blockViews(block.block, block.tableSize);
  const f = v.figures;
  const timeout = m.leg_timeout_ms ?? 500;
  const legs: LegReport[] = m.legs.map((input, leg) => {
    const row = LEG_BASE + leg * LEG_FIGURES;
    const lastMs = f[row + L.last_us] / 1000;
    const age = lastMs === 0 ? null : Math.max(0, nowMs - lastMs);
    const report: LegReport = {
      leg,
      interface: input.interface,
      destination: inputDestination(input),
      port: input.port ?? null,
      state: age !== null && age < timeout ? "up" : "down",
      last_packet_age_ms: age === null ? null : Math.round(age),
      last_packet_ms: lastMs,
    };
    for (const s of LEG_EXPORTED) {
      const value = f[row + L[s.name]];
      if (s.name.endsWith("_us")) report[s.name.replace(/_us$/, "_ms")] = value / 1000;
      else report[s.name] = value;
    }
    return report;
  });
  const switches: SwitchEntry[] = [];
  const n = f[M.switches];
  for (let k = Math.max(0, n - SWITCH_LOG); k < n; k++) {
    const at = SWITCH_BASE + (k % SWITCH_LOG) * SWITCH_COLUMNS;
    switches.push({
      at_ms: f[at] / 1000,
      from: f[at + 1],
      to: f[at + 2],
      reason: SWITCH_REASONS[f[at + 3]] ?? "?",
    });
  }
  const losses = history.single + history.multi;
  const common = losses === 0 ? null : history.multi / losses;
  const reasons: string[] = [];
  let state: MergeState = "ok";
  if (history.lost > 0) {
    state = "critical";
    reasons.push(
      `${history.lost} sequence numbers lost on every leg in the last ${history.recentS} s`,
    );
  }
  const warn = (why: string) => {
    if (state === "ok") state = "warning";
    reasons.push(why);
  };
  for (const l of legs) if (l.state === "down") warn(`leg ${l.leg} (${l.interface}) is down`);
  if (history.late > 0) {
    warn(
      `${history.late} copies came after the ${
        m.window_ms ?? 450
      } ms window in the last ${history.recentS} s (path differential beyond it)`,
    );
  }
  if (losses >= DIVERSITY_MIN_LOSSES && common !== null && common > COMMON_MODE_LIMIT) {
    warn(
      `paths not diverse: ${Math.round(common * 100)} % of ${losses} losses hit two legs at once`,
    );
  }
  return {
    rule: rule.name,
    mode: m.mode ?? "pass-through",
    key: typeof m.key === "object" ? "sequence" : m.key ?? "rtp",
    window_ms: m.window_ms ?? 450,
    state,
    reasons,
    figures: pairFigures(f),
    locked_leg: Atomics.load(v.control, CONTROL_LOCK),
    legs,
    diversity: {
      window_s: m.diversity_window_s ?? 60,
      single: history.single,
      multi: history.multi,
      common_mode: common,
    },
    switches,
  };
}
