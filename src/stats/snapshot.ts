/**
 * A reading of the relay's state: what the stats, health, Prometheus and CLI
 * renderers consume. It lives with its consumers (src/stats/); the supervisor
 * produces it (src/stats/aggregate.ts).
 */
import type { Input, Output } from "../config/schema.ts";

/** Counter values keyed by counter name (see src/stats/registry.ts). */
export type CounterValues = Record<string, number>;

/** An output as configured (egress, interface, group or address, port, ...) and its counters. */
export type OutputStats = Output & {
  counters: CounterValues; // OUTPUT_COUNTERS names
};

export interface RuleStats {
  name: string;
  /** The input as configured (interface, group or address, port, source); a merge's first leg. */
  input: Input;
  /** A merge rule's legs (its figures: GET /api/v1/merges). */
  legs?: Input[];
  counters: CounterValues; // RULE_COUNTERS names
  outputs: OutputStats[];
  /** Milliseconds since the rule's packet counter last increased (since the relay started if it never did). */
  silent_ms: number;
  /** False while the rule waits for its input interface or every output's interface/address. */
  active: boolean;
}

/** A worker restart as the relay timed it (src/supervisor/worker_pool.ts RestartRecord). */
export interface RestartTiming {
  cause: "threw" | "crashed" | "stuck";
  /** The faulty worker's last loop turn (ms since the epoch). */
  last_heartbeat_at_ms: number;
  /** When the supervisor saw the fault. */
  detected_at_ms: number;
  /** When the replacement had the plan in force; null until then. */
  forwarding_at_ms: number | null;
  /** What replaced the worker: its standby thread (ready at once) or a thread started then. */
  replacement?: "standby" | "new_thread";
}

export interface WorkerStats {
  id: number;
  alive: boolean;
  restarts: number;
  /** The restart that started this worker (null for the first). */
  last_restart: RestartTiming | null;
  /** Milliseconds since the worker's loop last turned. */
  heartbeat_age_ms: number;
  counters: CounterValues; // WORKER_COUNTERS + drop_<reason>
}

export interface InterfaceState {
  name: string;
  ifindex: number;
  up: boolean;
  present: boolean;
  mtu: number;
  mac: string;
  ipv4: string | null;
  /** Preferred IPv6 address (global, else link-local). */
  ipv6: string | null;
  roles: ("input" | "output")[];
  /** How many times the relay saw it appear, disappear or change since start. */
  events: number;
  /** The interface's own counters (kernel, /sys/class/net/NAME/statistics read natively): all frames, matching or not. */
  rx_packets: number;
  rx_dropped: number;
  tx_packets: number;
  tx_dropped: number;
}

/** What was heard on one link (GET /api/v1/rules/{name}/explain). */
export interface QuerierSeen {
  interface: string;
  family: 4 | 6;
  /** Address of the last querier heard, or null if none since listening started. */
  querier: string | null;
  /** "IGMPv3", "MLDv2", ...; null with no querier. */
  version: string | null;
  /** When the last query came (ms since the epoch), or null. */
  last_query_at_ms: number | null;
  /** How many queries were heard. */
  queries: number;
  /** When listening on this link started (ms since the epoch). */
  since_ms: number;
  /** Why this link cannot be listened to (the socket was refused), or null. */
  error: string | null;
}

/** A point-in-time reading of every counter. Totals include exited workers. */
export interface StatsSnapshot {
  /** Wall clock of the reading, ms since epoch. */
  at_ms: number;
  uptime_s: number;
  totals: CounterValues;
  workers: WorkerStats[];
  rules: RuleStats[];
}
