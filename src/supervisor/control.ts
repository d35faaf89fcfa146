/**
 * The contract between the control plane (HTTP API, CLI, signals) and the
 * relay. The API never touches packets: it reads snapshots and asks for whole
 * configurations to be applied through this interface.
 */
import type { StreamReport } from "../streams/readout.ts";
import type { MergeReport } from "../merge/merge_readout.ts";
import type { Config } from "../config/schema.ts";

export type {
  CounterValues,
  InterfaceState,
  OutputStats,
  RuleStats,
  StatsSnapshot,
  WorkerStats,
} from "../stats/snapshot.ts";
import type { InterfaceState, QuerierSeen, StatsSnapshot } from "../stats/snapshot.ts";
import type { CounterSample } from "../stats/rates.ts";
import type { StatsView } from "../stats/aggregate.ts";
import type { RoutingStatus } from "./routing.ts";
import type { LearnedOutput } from "./demand.ts";

/** IGMP, PIM and MSDP state (GET /api/v1/routing). */
export type RoutingReport = RoutingStatus & {
  learned_outputs: LearnedOutput[];
  /** Outputs joins asked for that were left out: over pim.max_learned_routes, or feeding a rule's input back. */
  learned_refused: number;
};

/** What applying a configuration changed. */
export interface ApplyResult {
  added: string[];
  removed: string[];
  changed: string[];
  unchanged: number;
}

/** What the relay holds, for introspection (GET /api/v1/resources). */
export interface Resources {
  slots: { rules: number; outputs: number; max_rules: number; max_outputs: number };
  memberships: {
    interface: string;
    family: 4 | 6;
    ifindex: number;
    sockets: number;
    memberships: string[];
  }[];
  unicast_ports: string[];
  workers: {
    id: number;
    alive: boolean;
    rings: { kind: "rx" | "tx" | "routed"; ifindex: number; bytes: number }[];
    ring_bytes: number;
  }[];
  /** Sum over workers of the ring and batch memory they map. */
  ring_bytes: number;
  ring_bytes_limit_per_worker: number;
  /** Worker threads fenced while inside native code that have not left it yet (restart mcr if this persists). */
  stuck_threads: { id: number; stuck_ms: number }[];
  /** Waiters freed (process-wide); `deferred`: freed by a fenced thread as it left native code; `freedInUse`: 0 by design. */
  waiters: { freed: number; deferred: number; freedInUse: number };
}

export interface RelayControl {
  /** The configuration in force. */
  config(): Config;
  /**
   * Applies a whole configuration (already schema-valid): either all of it
   * takes effect or none. Rules whose interfaces are absent wait for them.
   * Throws (and the previous plan stays in force) when a worker cannot apply
   * the plan, e.g. ring memory exhausted or a socket the kernel refuses.
   */
  applyConfig(next: Config): Promise<ApplyResult>;
  /**
   * The one mutation path (API, SIGHUP, interface follow-up all queue here):
   * builds the next configuration from the one in force when its turn comes,
   * applies it whole, then commits it (persists it). Acknowledged only when
   * both succeed; a failed commit rolls the apply back. Keys that cannot
   * change live are refused with RestartRequiredError.
   */
  change(
    build: (current: Config) => Config | Promise<Config>,
    commit?: (next: Config) => Promise<void>,
  ): Promise<ApplyResult>;
  /** IGMP groups, PIM neighbours and learned routes, MSDP peers and SA cache (optional for test doubles). */
  routing?(): RoutingReport;
  /** Counter slots, memberships, rings and stuck threads (optional for test doubles). */
  resources?(): Resources;
  /** Counters and states; `view` reads less (src/stats/aggregate.ts StatsView). */
  stats(view?: StatsView): StatsSnapshot;
  /** Stream health of the inspected rules, one when `rule` is given (optional for test doubles). */
  streams?(rule?: string): StreamReport[];
  /** The merged pairs (src/merge/), one when `rule` is given (optional for test doubles). */
  merges?(rule?: string): MergeReport[];
  /**
   * Failover: sends `leg` of the merge alone until unlocked (null); in force
   * with the next datagram. Throws UnknownRuleError, MergeLockError.
   */
  lockMerge?(rule: string, leg: number | null): MergeReport;
  /** The last configuration change tried (API, SIGHUP, interface follow-up): applied or not, and when. */
  lastChange?(): { ok: boolean; atMs: number } | null;
  /** Raw counters for rates, taken every second (cheap: no object per rule). */
  counterSample(reuse?: CounterSample): CounterSample;
  interfaces(): InterfaceState[];
  /** IGMP/MLD queriers heard on the links where groups are joined (optional for test doubles). */
  queriers?(): QuerierSeen[];
  /**
   * Runs fn once a second on the supervisor's own one-second timer (so an
   * idle relay wakes once a second, not once per listener); returns the
   * function that stops it. Optional for test doubles.
   */
  everySecond?(fn: () => void): () => void;
}
