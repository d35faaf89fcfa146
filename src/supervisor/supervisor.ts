/**
 * The supervisor: owns the configuration in force and composes the parts
 * that each own one thing: the worker pool (threads, plans, watchdog),
 * counter slots, memberships, unicast port absorbers and the interfaces'
 * facts. It never touches packets.
 *
 * Every change (API, SIGHUP, interface follow-up) runs in ONE queue, one at
 * a time, and is built from the configuration in force when it runs. Each
 * apply is whole or rolled back: slots are proposed and committed only on
 * success, memberships and absorbers joined for it are left again, and the
 * workers are given the previous plan back.
 */
import { InterfaceWatch } from "../../ffi/iface.ts";
import { createLogger } from "../log.ts";
import { MembershipSocket } from "../../ffi/membership.ts";
import { Waiter } from "../../ffi/waiter.ts";
import type { Config } from "../config/schema.ts";
import { ringKey, type WorkerPlan } from "../dataplane/plan_types.ts";
import { aggregate, type StatsView } from "../stats/aggregate.ts";
import { W } from "../stats/registry.ts";
import { type CounterSample, sumCounters } from "../stats/rates.ts";
import type {
  ApplyResult,
  InterfaceState,
  RelayControl,
  Resources,
  StatsSnapshot,
} from "./control.ts";
import { CounterSlots } from "./counter_slots.ts";
import { diffRules, keepUnchanged, restartOnlyKey } from "./config_diff.ts";
import {
  ApplyFailedError,
  PersistFailedError,
  ResourceLimitError,
  RestartRequiredError,
} from "./errors.ts";
import { InterfaceTracker, resolveInterfaces } from "./interfaces.ts";
import { Memberships } from "./memberships.ts";
import { type LearnedOutput, withDemand } from "./demand.ts";
import { protocolInterfaces, Routing, type RoutingStatus } from "./routing.ts";
import { activeRules, buildPlan, interfacesOf, RulePlanCache, wantedMemberships } from "./plan.ts";
import { MAX_WORKER_RING_BYTES, planRingBytes } from "./ring_geometry.ts";
import { FanoutIds } from "./fanout_ids.ts";
import { UnicastPorts } from "./unicast_ports.ts";
import { RuleActivity } from "./activity.ts";
import { type FaultKind, type PoolLogger, WorkerPool } from "./worker_pool.ts";
import { type InspectedRule, StreamWatch } from "./stream_watch.ts";
import { type MergedRule, mergedRules, MergeWatch } from "./merge_watch.ts";
import { RuleViews } from "./rule_views.ts";
import { OutputWatch } from "./output_watch.ts";
import { type QuerierSeen, QuerierWatch } from "./querier_watch.ts";
import { ControlSocket } from "../../ffi/control.ts";
import type { MergeReport } from "../merge/merge_readout.ts";
import type { StreamReport } from "../streams/readout.ts";

/** Logger the supervisor writes to (src/log.ts satisfies it); `level` is set live from `log.level`. */
export interface SupervisorLogger extends PoolLogger {
  level?: string;
}

export interface SupervisorOptions {
  logger?: SupervisorLogger;
  /** How long an idle worker sleeps in one wait (it also wakes on packets and control). */
  waitTimeoutMs?: number;
  /** How long to wait for workers to acknowledge a plan. */
  applyTimeoutMs?: number;
  /** Events for the API's stream: configuration changes, interface events, worker restarts. Must not block. */
  onEvent?: (type: string, data: Record<string, unknown>) => void;
}

/** How often the watchdog looks at the workers' heartbeats. */
const WATCHDOG_PERIOD_MS = 250;

export class Supervisor implements RelayControl {
  #config: Config;
  /** What the data plane is given: #config composed with IGMP and PIM demand (src/supervisor/demand.ts). */
  #effective: Config;
  #learned: LearnedOutput[] = [];
  /** Learned outputs left out at the last apply (over the bound, or feeding an input back). */
  #learnedRefused = 0;
  #routing: Routing;
  #demandQueued = false;
  #plan: WorkerPlan | null = null;
  #pool: WorkerPool;
  #slots = new CounterSlots();
  #memberships: Memberships;
  /** Unicast input ports held (unicast_ports.ts). */
  #ports = new UnicastPorts();
  /** Rule plans of unchanged rules are reused (and only changes are sent to workers). */
  #planCache = new RulePlanCache();
  /** Fanout group ids (a new one for every ring succession). */
  #fanout = new FanoutIds();
  /** The interfaces the configuration names, followed between plans (interfaces.ts). */
  #interfaces: InterfaceTracker;
  #startedAt = Date.now();
  /** When each rule's packets last moved (activity.ts). */
  #activity = new RuleActivity();
  #sampler: ReturnType<typeof setInterval> | undefined;
  #watcher: ReturnType<typeof setInterval> | undefined;
  /** rtnetlink notifications; null if they cannot be had (then interfaces are polled every second). */
  #watch: InterfaceWatch | null = null;
  #ticks = 0;
  #everySecond = new Set<() => void>();
  #queue: Promise<unknown> = Promise.resolve();
  #replanQueued = false;
  #lastChange: { ok: boolean; atMs: number } | null = null;
  #onEvent: (type: string, data: Record<string, unknown>) => void;
  /** The inspected streams: rates, health and their changes (src/supervisor/stream_watch.ts). */
  #streams: StreamWatch;
  /** The merged pairs: health and their changes (src/supervisor/merge_watch.ts). */
  #merges: MergeWatch;
  #views = new RuleViews();
  /** Outputs that lose copies, told in the log by name and errno (output_watch.ts). */
  #failing = new OutputWatch((msg, f) => this.#log.warn(msg, f));
  /** Queriers heard on the links where groups are joined (querier_watch.ts, for `mcr explain`). */
  #queriers = new QuerierWatch((i, f, p, label) => ControlSocket.open(i, f, p, label, false));
  #log: SupervisorLogger;
  #stopping = false;

  constructor(config: Config, options: SupervisorOptions = {}) {
    this.#config = config;
    this.#effective = config;
    this.#log = options.logger ?? createLogger();
    this.#onEvent = options.onEvent ?? (() => {});
    this.#pool = new WorkerPool({
      onEvent: this.#onEvent,
      logger: this.#log,
      waitTimeoutMs: options.waitTimeoutMs ?? 200,
      applyTimeoutMs: options.applyTimeoutMs ?? 5000,
      standby: config.standby_workers ?? true,
    });
    this.#interfaces = new InterfaceTracker({
      log: this.#log,
      onEvent: (data) => this.#onEvent("interface", data),
    });
    this.#streams = new StreamWatch({
      live: () => this.#pool.workers.map((w) => w.streamCounters),
      archived: () => this.#pool.archived.stream,
    }, (data) => this.#onEvent("stream", data));
    this.#merges = new MergeWatch((data) => this.#onEvent("merge", data));
    this.#memberships = new Memberships({
      open: (family) => MembershipSocket.open(family),
      logger: this.#log,
    });
    this.#routing = new Routing({
      log: this.#log,
      onEvent: (data) => this.#onEvent("protocol", data),
      onDemandChange: () => this.#demandChanged(),
      advertised: () =>
        this.#activity.advertised(activeRules(this.#effective), this.#interfaces.facts, Date.now()),
    });
  }

  /** Starts the workers and applies the initial configuration. */
  async start(): Promise<void> {
    const count = this.#config.workers ?? 1;
    await this.#pool.start(count);
    try {
      this.#watch = InterfaceWatch.open();
    } catch (err) {
      this.#log.warn("no interface notifications; polling interfaces every second", {
        error: (err as Error).message,
      });
    }
    // Interface notifications wake the supervisor when they come (an idle
    // relay is not polled); a full re-read every 10 s (every second without
    // notifications) is the backstop. The watchdog runs every 250 ms, from
    // before the first plan is applied.
    this.#watch?.follow(() => {
      if (this.#plan === null || this.#stopping) return;
      try {
        this.#refreshInterfaces();
      } catch (err) {
        // Never lost: the 10 s re-read tries again.
        this.#log.error("re-reading interfaces after a change failed", {
          error: (err as Error).message,
        });
      }
    });
    this.#watcher = this.#pool.watchEvery(WATCHDOG_PERIOD_MS);
    const result = await this.#enqueue(() => this.#apply(this.#config, true));
    this.#log.info("relay started", { workers: count, rules: result.added.length });
    this.#sampler = setInterval(() => {
      this.#sample();
      for (const fn of this.#everySecond) {
        try {
          fn();
        } catch (err) {
          this.#log.error("a once-a-second task failed", { error: (err as Error).message });
        }
      }
      if (this.#watch === null || ++this.#ticks % 10 === 0) this.#refreshInterfaces();
    }, 1000);
  }

  config(): Config {
    return this.#config;
  }

  everySecond(fn: () => void): () => void {
    const entry = () => fn(); // its own identity: the same fn may be added twice
    this.#everySecond.add(entry);
    return () => this.#everySecond.delete(entry);
  }

  applyConfig(next: Config): Promise<ApplyResult> {
    return this.change(() => next);
  }

  /**
   * The one mutation path: builds the next configuration from the one in
   * force when its turn comes, applies it, then `commit`s it (persists it).
   * Acknowledged only when both succeed; if commit fails, the previous
   * configuration is applied again and the error rethrown.
   */
  change(
    build: (current: Config) => Config | Promise<Config>,
    commit?: (next: Config) => Promise<void>,
  ): Promise<ApplyResult> {
    return this.#enqueue(async () => {
      const before = this.#config;
      const t0 = performance.now();
      let next: Config;
      let result: ApplyResult;
      try {
        // A change refused while it is built (a reload of an invalid file, an invalid rule)
        // is a change tried and failed, like one that fails to apply: both are seen.
        next = keepUnchanged(before, await build(before));
      } catch (err) {
        this.#refused(err as Error);
        throw err;
      }
      const t1 = performance.now();
      try {
        result = await this.#apply(next, false);
      } catch (err) {
        this.#refused(err as Error);
        throw err;
      }
      const t2 = performance.now();
      if (commit) {
        try {
          await commit(next);
        } catch (err) {
          this.#log.error("configuration applied but not persisted: rolling back", {
            error: (err as Error).message,
          });
          await this.#apply(before, false).catch((e) =>
            this.#log.error("rollback after a failed persist failed", {
              error: (e as Error).message,
            })
          );
          this.#lastChange = { ok: false, atMs: Date.now() };
          // A file changed on disk keeps its own error (the API answers 409).
          throw (err as Error).name === "ConfigConflictError"
            ? err
            : new PersistFailedError(err as Error);
        }
      }
      this.#lastChange = { ok: true, atMs: Date.now() };
      this.#onEvent("config", { ...result });
      this.#log.debug?.("change timing", {
        build_ms: Math.round(t1 - t0),
        apply_ms: Math.round(t2 - t1),
        persist_ms: Math.round(performance.now() - t2),
      });
      return result;
    });
  }

  /** A change that was tried and is not in force: the last change, and an event. */
  #refused(err: Error): void {
    this.#lastChange = { ok: false, atMs: Date.now() };
    this.#onEvent("config", { ok: false, error: err.message });
  }

  /** Stops workers (they drain, flush and release rings), leaves every group. */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    clearInterval(this.#sampler);
    clearInterval(this.#watcher);
    await this.#watch?.close();
    await this.#routing.stop();
    this.#memberships.closeAll();
    await this.#queriers.closeAll();
    this.#ports.closeAll();
    await this.#pool.stop();
  }

  /** Test hook (MCR_FAULT_INJECTION=1): make a worker throw, hang, or block inside native code for `ms`. */
  injectFault(workerId: number, kind: FaultKind, ms?: number): boolean {
    return this.#pool.injectFault(workerId, kind, ms);
  }

  /** The last configuration change tried (the initial one excluded): applied or not, and when. */
  lastChange(): { ok: boolean; atMs: number } | null {
    return this.#lastChange;
  }

  #enqueue<T>(job: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(job);
    this.#queue = run.catch(() => {});
    return run;
  }

  // ---- configuration ------------------------------------------------------

  async #apply(next: Config, initial: boolean): Promise<ApplyResult> {
    if (this.#stopping) throw new Error("the relay is stopping");
    if (!initial) {
      const key = restartOnlyKey(this.#config, next);
      if (key) throw new RestartRequiredError(key);
    }
    const tApply = performance.now();
    const before = initial ? { ...next, rules: [] } : this.#config;
    // The data plane is given the configuration composed with what receivers and routers ask for.
    const composed = withDemand(next, this.#routing.demand());
    const effective = composed.config;
    const names = interfacesOf(effective);
    const facts = resolveInterfaces([
      ...names.inputs,
      ...names.outputs,
      ...protocolInterfaces(next),
    ]);
    const rules = activeRules(effective);
    const proposal = this.#slots.propose(rules); // throws before anything changed
    // Locks go into the merges' blocks before a worker merges with them (a new block starts unlocked).
    this.#merges.relock(mergedRules(rules, proposal.assigned), false);
    const workers = next.workers ?? 1;
    const tPlan = performance.now();
    const plan = buildPlan(effective, facts, proposal.assigned, new Map(), 0, this.#planCache);
    this.#fanout.assign(
      plan.rx,
      this.#plan?.rx ?? [],
      workers,
      workers === this.#pool.workers.length,
    );
    const planMs = performance.now() - tPlan;
    const ringBytes = planRingBytes(plan);
    if (ringBytes > MAX_WORKER_RING_BYTES) {
      throw new ResourceLimitError(
        "ring_memory",
        `the configuration needs ${
          (ringBytes / 2 ** 20).toFixed(0)
        } MiB of rings per worker, more than the ` +
          `${
            MAX_WORKER_RING_BYTES / 2 ** 20
          } MiB limit; lower rate_pps or ring sizes (ring.block_count, tx_frames)`,
      );
    }
    const wanted = wantedMemberships(effective);
    let undoJoins: () => void = () => {};
    let undoPorts: () => void = () => {};
    try {
      const tJoin = performance.now();
      undoJoins = this.#memberships.join(wanted, facts);
      undoPorts = this.#ports.hold(next, facts);
      const tDeliver = performance.now();
      // Inputs read under the previous plan: their new rings wait for the succession's release.
      const hold = this.#plan?.rx.map(ringKey) ?? [];
      if (workers !== this.#pool.workers.length) await this.#pool.resize(workers, plan, hold);
      else await this.#pool.deliver(plan, hold);
      // Last, as it changes nothing when it fails: the routing protocols' sockets and sessions.
      await this.#routing.apply(next, facts);
      this.#log.debug?.("apply timing", {
        prepare_ms: Math.round(tPlan - tApply),
        plan_ms: Math.round(planMs),
        join_ms: Math.round(tDeliver - tJoin),
        deliver_ms: Math.round(performance.now() - tDeliver),
      });
    } catch (err) {
      // Roll back: memberships and ports taken for this change, then the workers.
      undoJoins();
      undoPorts();
      if (this.#plan) {
        await this.#pool.deliver(this.#plan).catch((e) =>
          this.#log.error("workers could not be given the previous plan back", {
            error: (e as Error).message,
          })
        );
      }
      this.#log.warn("configuration change failed and was rolled back", {
        error: (err as Error).message,
      });
      throw err instanceof ApplyFailedError || (err as Error).name === "NativeError"
        ? err
        : new ApplyFailedError(err as Error);
    }
    this.#pool.zeroReleased(proposal.commit());
    this.#plan = plan;
    this.#config = next;
    this.#merges.relock(this.#merged(), true);
    this.#effective = effective;
    this.#learned = composed.learned;
    this.#learnedRefused = composed.refused;
    this.#interfaces.planned(facts);
    this.#memberships.leaveUnwanted(wanted);
    this.#queriers.sync(this.#memberships.links());
    this.#ports.release(next);
    if (this.#log.level !== undefined && next.log?.level !== undefined) {
      this.#log.level = next.log.level;
    }
    const result = diffRules(before, next);
    this.#log.debug?.("apply timing", { total_ms: Math.round(performance.now() - tApply) });
    this.#log.debug?.("plan applied", {
      ...result,
      rx_rings: plan.rx.map((r) => ({ interface: r.ifname, bytes: r.geometry.bytes })),
      tx_rings: plan.tx.map((t) => ({ interface: t.ifname, bytes: t.geometry.bytes })),
      memberships: this.#memberships.count(),
    });
    return result;
  }

  /**
   * When an interface appeared, disappeared, was re-created or changed address, MTU or MAC,
   * the configuration in force (read when the re-plan runs, not now) is planned again.
   */
  #refreshInterfaces(): void {
    const names = interfacesOf(this.#effective);
    const all = new Set([...names.inputs, ...names.outputs, ...protocolInterfaces(this.#config)]);
    const changed = this.#interfaces.refresh(all, this.#replanQueued);
    if (!changed || this.#replanQueued) return;
    this.#replanQueued = true;
    this.#enqueue(() => {
      this.#replanQueued = false;
      return this.#apply(this.#config, false);
    }).catch((err) =>
      this.#log.error("re-planning after an interface change failed", {
        error: (err as Error).message,
      })
    );
  }

  // ---- routing protocols ---------------------------------------------------------

  /** Receivers or routers asked for something else: the configuration in force is planned again with it. */
  #demandChanged(): void {
    if (this.#plan === null || this.#stopping || this.#demandQueued) return;
    // Reports or joins for groups no rule relays change nothing the data plane is given: no re-plan.
    // (withDemand returns the same rule objects for the same composition.)
    const next = withDemand(this.#config, this.#routing.demand()).config.rules;
    const now = this.#effective.rules;
    if (next.length === now.length && next.every((r, i) => r === now[i])) return;
    this.#demandQueued = true;
    this.#enqueue(() => {
      this.#demandQueued = false;
      return this.#apply(this.#config, false);
    }).then(
      () => this.#routing.advertise(),
      (err) =>
        this.#log.error("re-planning for IGMP/PIM demand failed", {
          error: (err as Error).message,
        }),
    );
  }

  /** IGMP groups, PIM neighbours and routes, MSDP peers and SA cache, and the outputs PIM joins added. */
  routing(): RoutingStatus & { learned_outputs: LearnedOutput[]; learned_refused: number } {
    return {
      ...this.#routing.status(),
      learned_outputs: this.#learned,
      learned_refused: this.#learnedRefused,
    };
  }

  // ---- statistics and introspection ------------------------------------------

  /** Every second: when each rule's packets last moved, and the streams' rates and health. */
  #sample(): void {
    const now = Date.now();
    this.#streams.sample(this.#inspected(), now);
    this.#merges.sample(this.#merged(), now);
    this.#activity.sample(this.#slots.assigned, {
      archived: this.#pool.archived.rule,
      live: this.#pool.workers.map((w) => w.ruleCounters),
    }, now);
    this.#failing.sample(activeRules(this.#effective), this.#slots.assigned, {
      archived: this.#pool.archived,
      live: this.#pool.workers.map((w) => ({ worker: w.counters, output: w.outputCounters })),
    }, now);
  }

  /** The inspected rules in force and their stream slots (made once per configuration and slots). */
  #inspected(): InspectedRule[] {
    return this.#views.of(this.#effective, this.#slots.assigned).inspected;
  }

  #merged(): MergedRule[] {
    return this.#views.of(this.#effective, this.#slots.assigned).merged;
  }

  /** The merged pairs (one, when `rule` is given). */
  merges(rule?: string): MergeReport[] {
    return this.#merges.reports(this.#merged(), Date.now(), rule);
  }

  /** Failover: sends `leg` of `rule`'s merge alone until unlocked (null); kept across changes. */
  lockMerge(rule: string, leg: number | null): MergeReport {
    this.#merges.lock(this.#merged(), rule, leg);
    return this.merges(rule)[0];
  }

  /** Stream health of the inspected rules (one, when `rule` is given). */
  streams(rule?: string): StreamReport[] {
    return this.#streams.reports(this.#inspected(), Date.now(), rule);
  }

  stats(view: StatsView = "full"): StatsSnapshot {
    const some = view !== "workers"; // "workers": no rule is read
    return aggregate({
      view,
      now: Date.now(),
      startedAt: this.#startedAt,
      workers: this.#pool.workers.map((w) => ({
        id: w.id,
        alive: w.alive,
        restarts: w.restarts,
        lastRestart: w.lastRestart,
        counters: { worker: w.counters, rule: w.ruleCounters, output: w.outputCounters },
      })),
      archived: this.#pool.archived,
      rules: some ? activeRules(this.#effective) : [],
      slots: this.#slots.assigned,
      forwarding: new Set(some ? this.#plan?.rules.map((r) => r.name) : []),
      lastChange: this.#activity.lastChange,
    });
  }

  /**
   * Whether the data plane is doing its job: every worker alive, its loop
   * turned within `maxAgeMs` (what systemd's watchdog pings are given for).
   */
  dataPlaneHealthy(maxAgeMs = 2000): boolean {
    const now = Date.now();
    return this.#pool.workers.length > 0 &&
      this.#pool.workers.every((w) => w.alive && now - w.counters[W.heartbeat_ms] < maxAgeMs);
  }

  /**
   * Raw counters for rates (src/stats/rates.ts): the blocks summed over live
   * and exited workers up to the highest slot in use. No object per rule:
   * taken every second, it stays cheap with 10,000 rules.
   */
  counterSample(reuse?: CounterSample): CounterSample {
    return sumCounters(
      this.#pool.archived,
      this.#pool.workers.map((w) => ({
        id: w.id,
        restarts: w.restarts,
        counters: { worker: w.counters, rule: w.ruleCounters, output: w.outputCounters },
      })),
      this.#slots.extent(),
      this.#slots.assigned,
      Date.now(),
      reuse,
    );
  }

  queriers(): QuerierSeen[] {
    return this.#queriers.seen();
  }

  interfaces(): InterfaceState[] {
    const names = interfacesOf(this.#effective);
    return this.#interfaces.describe(names.inputs, names.outputs);
  }

  /** What the relay holds: counter slots, memberships, rings per worker, fenced threads. */
  resources(): Resources {
    const slots = this.#slots.inUse();
    const workers = this.#pool.workers.map((w) => ({
      id: w.id,
      alive: w.alive,
      rings: w.rings.map((r) => ({ ...r })),
      ring_bytes: w.rings.reduce((a, r) => a + r.bytes, 0),
    }));
    return {
      slots: {
        rules: slots.rules,
        outputs: slots.outputs,
        max_rules: this.#slots.maxRules,
        max_outputs: this.#slots.maxOutputs,
      },
      memberships: this.#memberships.snapshot(),
      unicast_ports: this.#ports.keys(),
      workers,
      ring_bytes: workers.reduce((a, w) => a + w.ring_bytes, 0),
      ring_bytes_limit_per_worker: MAX_WORKER_RING_BYTES,
      stuck_threads: this.#pool.zombies(),
      waiters: Waiter.tally(),
    };
  }
}
