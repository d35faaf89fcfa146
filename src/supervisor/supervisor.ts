/**
 * The supervisor: owns the configuration in force, the forwarding workers,
 * IGMP memberships and counter slots. It never touches packets. A new
 * configuration is applied as a plan that every worker swaps in between RX
 * blocks; workers are started once and restarted only if they die.
 */
import { interfaceInfo } from "../../ffi/iface.ts";
import { MembershipSocket } from "../../ffi/membership.ts";
import { PortAbsorber } from "../../ffi/routed.ts";
import { Waiter } from "../../ffi/waiter.ts";
import { loadLibrary } from "../../ffi/library.ts";
import { type Config, outputDestination } from "../config/schema.ts";
import { formatIp, fromWords, ip } from "../net/address.ts";
import {
  COMMAND_FAULT_HANG,
  COMMAND_FAULT_THROW,
  COMMAND_RECONFIGURE,
  COMMAND_STOP,
  CONTROL_COMMAND,
  CONTROL_REQUESTED_GEN,
  CONTROL_WORDS,
} from "../dataplane/forward_loop.ts";
import type { FromWorker, RingRelease, ToWorker } from "../dataplane/worker.ts";
import {
  DROP_REASONS,
  DROP_SLOT_BASE,
  MAX_OUTPUT_SLOTS,
  MAX_RULE_SLOTS,
  OUTPUT_COUNTERS,
  OUTPUT_SLOTS,
  RULE_COUNTERS,
  RULE_SLOTS,
  WORKER_COUNTERS,
  WORKER_SLOTS,
} from "../stats/registry.ts";
import type {
  ApplyResult,
  CounterValues,
  InterfaceState,
  RelayControl,
  RuleStats,
  StatsSnapshot,
  WorkerStats,
} from "./control.ts";
import {
  activeRules,
  buildPlan,
  type InterfaceFacts,
  interfacesOf,
  type MembershipKey,
  type RuleSlots,
  unicastPorts,
  wantedMemberships,
  type WorkerPlan,
} from "./plan.ts";

/** Minimal logger the supervisor writes to (src/log.ts satisfies it). */
export interface SupervisorLogger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

const consoleLogger: SupervisorLogger = {
  info: (msg, f) => console.error(JSON.stringify({ level: "info", msg, ...f })),
  warn: (msg, f) => console.error(JSON.stringify({ level: "warn", msg, ...f })),
  error: (msg, f) => console.error(JSON.stringify({ level: "error", msg, ...f })),
};

export interface SupervisorOptions {
  logger?: SupervisorLogger;
  /** How long an idle worker sleeps in one wait (it also wakes on packets and control). */
  waitTimeoutMs?: number;
  /** How long to wait for workers to acknowledge a plan. */
  applyTimeoutMs?: number;
}

class WorkerHandle {
  worker: Worker | null = null;
  /** Rings the worker has open (released by the supervisor if the worker dies). */
  rings: RingRelease[] = [];
  alive = false;
  waiterHandle = -1;
  heartbeatSeen = 0;
  readonly control = new Int32Array(new SharedArrayBuffer(CONTROL_WORDS * 4));
  readonly counters = new Float64Array(new SharedArrayBuffer(WORKER_SLOTS * 8));
  readonly ruleCounters = new Float64Array(new SharedArrayBuffer(MAX_RULE_SLOTS * RULE_SLOTS * 8));
  readonly outputCounters = new Float64Array(new SharedArrayBuffer(MAX_OUTPUT_SLOTS * OUTPUT_SLOTS * 8));
  readonly waiting = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  ready: Promise<void> = Promise.resolve();
  stopped: Promise<void> = Promise.resolve();
  constructor(readonly id: number, public restarts: number) {}
}

/** The memberships held on one (interface, family) helper socket. */
interface Membership {
  socket: MembershipSocket;
  ifindex: number;
  /** membershipKey() -> membership held on this socket. */
  joined: Map<string, MembershipKey>;
}

function membershipKey(m: MembershipKey): string {
  return `${m.group}|${m.source ?? "*"}`;
}

function membershipLabel(m: MembershipKey): string {
  return m.source === null ? m.group : `(${m.source}, ${m.group})`;
}

/** An absorbing socket held for a unicast input's port. */
interface Absorber {
  absorber: PortAbsorber;
  ifindex: number;
}

const HEARTBEAT_SLOT = WORKER_COUNTERS.findIndex((c) => c.name === "heartbeat_ms");

/** Reads /sys/class/net/NAME/statistics/COUNTER (0 if unreadable). */
function readInterfaceCounter(name: string, counter: string): number {
  try {
    return Number(Deno.readTextFileSync(`/sys/class/net/${name}/statistics/${counter}`).trim()) || 0;
  } catch {
    return 0;
  }
}

/** Sums Float64 counter arrays into `into`. */
function addInto(into: Float64Array, from: Float64Array): void {
  for (let i = 0; i < into.length; i++) into[i] += from[i];
}

export class Supervisor implements RelayControl {
  #config: Config;
  #generation = 0;
  #workers: WorkerHandle[] = [];
  /** Counters of workers that exited, so totals never go backwards. */
  #archived = {
    worker: new Float64Array(WORKER_SLOTS),
    rule: new Float64Array(MAX_RULE_SLOTS * RULE_SLOTS),
    output: new Float64Array(MAX_OUTPUT_SLOTS * OUTPUT_SLOTS),
  };
  #slots = new Map<string, RuleSlots & { outputKeys: string[] }>();
  #freeRuleSlots: number[] = [];
  #freeOutputSlots: number[] = [];
  #nextRuleSlot = 0;
  #nextOutputSlot = 0;
  /** By `${interface}|${family}`. */
  #memberships = new Map<string, Membership>();
  /** By `${interface}|${address}|${port}`. */
  #absorbers = new Map<string, Absorber>();
  #fanoutIds = new Map<string, number>();
  /** Interfaces as last planned with (absent ones are missing). */
  #facts = new Map<string, InterfaceFacts>();
  /** How often each interface appeared, disappeared or changed. */
  #interfaceEvents = new Map<string, number>();
  #plan: WorkerPlan | null = null;
  #startedAt = Date.now();
  #lastPackets = new Map<string, { packets: number; changedAt: number }>();
  #sampler: ReturnType<typeof setInterval> | undefined;
  #watchdog: ReturnType<typeof setInterval> | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #log: SupervisorLogger;
  #waitTimeoutMs: number;
  #applyTimeoutMs: number;
  #stopping = false;

  constructor(config: Config, options: SupervisorOptions = {}) {
    this.#config = config;
    this.#log = options.logger ?? consoleLogger;
    this.#waitTimeoutMs = options.waitTimeoutMs ?? 100;
    this.#applyTimeoutMs = options.applyTimeoutMs ?? 5000;
  }

  /** Starts the workers and applies the initial configuration. */
  async start(): Promise<void> {
    const count = this.#config.workers ?? 1;
    for (let i = 0; i < count; i++) {
      const h = new WorkerHandle(i, 0);
      this.#workers.push(h);
      this.#spawn(h);
    }
    await Promise.all(this.#workers.map((w) => w.ready));
    const result = await this.#apply(this.#config, true);
    this.#log.info("relay started", { workers: count, rules: result.added.length });
    this.#sampler = setInterval(() => {
      this.#sample();
      this.#refreshInterfaces();
    }, 1000);
    this.#watchdog = setInterval(() => this.#checkProgress(), 100);
  }

  config(): Config {
    return this.#config;
  }

  applyConfig(next: Config): Promise<ApplyResult> {
    const run = this.#queue.then(() => this.#apply(next, false));
    this.#queue = run.catch(() => {});
    return run;
  }

  /** Stops workers (they flush and release rings), leaves every group. */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    clearInterval(this.#sampler);
    clearInterval(this.#watchdog);
    for (const m of this.#memberships.values()) m.socket.close();
    this.#memberships.clear();
    for (const a of this.#absorbers.values()) a.absorber.close();
    this.#absorbers.clear();
    for (const w of this.#workers) {
      Atomics.store(w.control, CONTROL_COMMAND, COMMAND_STOP);
      if (w.waiterHandle >= 0) Waiter.notifyHandle(w.waiterHandle);
    }
    const timeout = new Promise<void>((r) => setTimeout(r, 2000));
    await Promise.race([Promise.all(this.#workers.map((w) => w.stopped)), timeout]);
    for (const w of this.#workers) {
      if (w.alive) w.worker?.terminate();
      w.alive = false;
    }
  }

  // ---- configuration ------------------------------------------------------

  async #apply(next: Config, initial: boolean): Promise<ApplyResult> {
    const before = initial ? { ...next, rules: [] } : this.#config;
    const names = interfacesOf(next);
    const facts = this.#resolveInterfaces([...names.inputs, ...names.outputs]);
    const slotsBefore = new Map(this.#slots);
    const result = this.#assignSlots(before, next);
    for (const name of names.inputs) {
      if (!this.#fanoutIds.has(name) && (next.workers ?? 1) > 1) {
        // One PACKET_FANOUT group per input interface, unique per process.
        this.#fanoutIds.set(name, ((Deno.pid & 0x3ff) << 6 | this.#fanoutIds.size & 0x3f) & 0xffff || 1);
      }
    }
    const plan = buildPlan(next, facts, this.#slots, this.#fanoutIds, ++this.#generation);
    try {
      this.#joinGroups(next, facts);
      await this.#sendPlan(plan);
    } catch (err) {
      // Roll back: the old plan and slots stay in force.
      this.#slots = slotsBefore;
      if (this.#plan) {
        const again = { ...this.#plan, generation: ++this.#generation };
        await this.#sendPlan(again).catch(() => {});
        this.#plan = again;
      }
      this.#leaveGroupsNotIn(this.#config);
      throw err;
    }
    this.#plan = plan;
    this.#config = next;
    this.#facts = facts;
    this.#leaveGroupsNotIn(next);
    this.#releaseSlots(slotsBefore);
    return result;
  }

  /**
   * Looks up every interface by name. Absent interfaces are not an error:
   * rules that need them wait (see buildPlan) and start forwarding when the
   * interface appears (#refreshInterfaces).
   */
  #resolveInterfaces(names: string[]): Map<string, InterfaceFacts> {
    const facts = new Map<string, InterfaceFacts>();
    for (const name of new Set(names)) {
      const info = interfaceInfo(name);
      if (info) {
        facts.set(name, {
          name,
          ifindex: info.ifindex,
          mtu: info.mtu,
          ipv4: info.ipv4,
          ipv6: info.ipv6 ? [...info.ipv6] : null,
          mac: [...info.mac],
        });
      }
    }
    return facts;
  }

  /**
   * Called every second: when an interface appeared, disappeared, was
   * re-created (new ifindex) or changed address, MTU or MAC, the current
   * configuration is planned again; workers re-create only the rings whose
   * interface changed, and memberships are joined again.
   */
  #refreshInterfaces(): void {
    const names = interfacesOf(this.#config);
    const now = this.#resolveInterfaces([...names.inputs, ...names.outputs]);
    const key = (f: InterfaceFacts | undefined) =>
      f ? `${f.ifindex}|${f.ipv4}|${f.ipv6?.join(".") ?? "-"}|${f.mtu}|${f.mac.join(":")}` : "absent";
    let changed = false;
    for (const name of new Set([...names.inputs, ...names.outputs])) {
      const before = this.#facts.get(name);
      const after = now.get(name);
      if (key(before) === key(after)) continue;
      changed = true;
      this.#interfaceEvents.set(name, (this.#interfaceEvents.get(name) ?? 0) + 1);
      const what = !before ? "appeared" : !after ? "disappeared" : before.ifindex !== after.ifindex
        ? "was re-created"
        : "changed address, MTU or MAC";
      this.#log.warn(`interface "${name}" ${what}`, { interface: name, ifindex: after?.ifindex ?? 0 });
    }
    if (!changed) return;
    this.applyConfig(this.#config).catch((err) =>
      this.#log.error("re-planning after an interface change failed", { error: (err as Error).message })
    );
  }

  /** Gives every rule and output of `next` a counter slot; returns the diff summary. */
  #assignSlots(before: Config, next: Config): ApplyResult {
    const oldRules = new Map(activeRules(before).map((r) => [r.name, r]));
    const result: ApplyResult = { added: [], removed: [], changed: [], unchanged: 0 };
    const slots = new Map<string, RuleSlots & { outputKeys: string[] }>();
    for (const r of activeRules(next)) {
      const old = oldRules.get(r.name);
      const prev = this.#slots.get(r.name);
      if (!old) result.added.push(r.name);
      else if (JSON.stringify(old) !== JSON.stringify(r)) result.changed.push(r.name);
      else result.unchanged++;
      const outputKeys = r.outputs.map((o) => `${o.egress ?? "l2"}|${o.interface}|${outputDestination(o)}|${o.port}`);
      const ruleSlot = prev?.rule ?? this.#takeSlot("rule");
      const outputs = outputKeys.map((key) => {
        const i = prev ? prev.outputKeys.indexOf(key) : -1;
        return i >= 0 ? prev!.outputs[i] : this.#takeSlot("output");
      });
      slots.set(r.name, { rule: ruleSlot, outputs, outputKeys });
    }
    for (const name of oldRules.keys()) if (!slots.has(name)) result.removed.push(name);
    this.#slots = slots;
    return result;
  }

  #takeSlot(kind: "rule" | "output"): number {
    const free = kind === "rule" ? this.#freeRuleSlots : this.#freeOutputSlots;
    const reused = free.pop();
    if (reused !== undefined) return reused;
    if (kind === "rule") {
      if (this.#nextRuleSlot >= MAX_RULE_SLOTS) throw new Error(`more than ${MAX_RULE_SLOTS} rules`);
      return this.#nextRuleSlot++;
    }
    if (this.#nextOutputSlot >= MAX_OUTPUT_SLOTS) throw new Error(`more than ${MAX_OUTPUT_SLOTS} outputs`);
    return this.#nextOutputSlot++;
  }

  /** Frees slots no longer used (after the plan that stopped using them is applied) and zeroes them. */
  #releaseSlots(before: Map<string, RuleSlots & { outputKeys: string[] }>): void {
    const usedRules = new Set([...this.#slots.values()].map((s) => s.rule));
    const usedOutputs = new Set([...this.#slots.values()].flatMap((s) => s.outputs));
    for (const s of before.values()) {
      if (!usedRules.has(s.rule)) {
        this.#zero("rule", s.rule);
        this.#freeRuleSlots.push(s.rule);
        usedRules.add(s.rule);
      }
      for (const o of s.outputs) {
        if (!usedOutputs.has(o)) {
          this.#zero("output", o);
          this.#freeOutputSlots.push(o);
          usedOutputs.add(o);
        }
      }
    }
  }

  #zero(kind: "rule" | "output", slot: number): void {
    const width = kind === "rule" ? RULE_SLOTS : OUTPUT_SLOTS;
    const arrays = [
      kind === "rule" ? this.#archived.rule : this.#archived.output,
      ...this.#workers.map((w) => kind === "rule" ? w.ruleCounters : w.outputCounters),
    ];
    for (const a of arrays) a.fill(0, slot * width, slot * width + width);
  }

  /**
   * Joins what `config` needs on every present input interface (one helper
   * socket per interface and family: IGMP and MLD), and holds the ports of
   * unicast inputs. A group changing between any-source and source-specific
   * membership is left first: one socket cannot hold both.
   */
  #joinGroups(config: Config, facts: Map<string, InterfaceFacts>): void {
    for (const [name, wanted] of wantedMemberships(config)) {
      const f = facts.get(name);
      if (!f) continue; // waits for the interface
      for (const family of [4, 6] as const) {
        const mine = wanted.filter((w) => w.family === family);
        if (mine.length === 0) continue;
        const socketKey = `${name}|${family}`;
        let m = this.#memberships.get(socketKey);
        if (m && m.ifindex !== f.ifindex) {
          m.socket.close();
          this.#memberships.delete(socketKey);
          m = undefined;
        }
        if (!m) {
          m = { socket: MembershipSocket.open(family), ifindex: f.ifindex, joined: new Map() };
          this.#memberships.set(socketKey, m);
        }
        const wantedKeys = new Set(mine.map(membershipKey));
        const groups = new Set(mine.map((w) => w.group));
        for (const [key, w] of m.joined) {
          if (groups.has(w.group) && !wantedKeys.has(key)) this.#leave(name, m, key, w);
        }
        for (const w of mine) {
          const key = membershipKey(w);
          if (m.joined.has(key)) continue;
          m.socket.join(f.ifindex, ip(w.group), w.source === null ? null : ip(w.source), membershipLabel(w));
          m.joined.set(key, w);
        }
      }
    }
    for (const u of unicastPorts(config)) {
      const f = facts.get(u.ifname);
      if (!f) continue;
      const key = `${u.ifname}|${u.address}|${u.port}`;
      const held = this.#absorbers.get(key);
      if (held && held.ifindex === f.ifindex) continue;
      held?.absorber.close();
      const absorber = PortAbsorber.open(u.family, ip(u.address).bytes, u.port, f.ifindex, `${u.address} ${u.port}`);
      this.#absorbers.set(key, { absorber, ifindex: f.ifindex });
    }
  }

  /** Leaves every membership `config` no longer needs; closes sockets of interfaces it no longer uses. */
  #leaveGroupsNotIn(config: Config): void {
    const wanted = wantedMemberships(config);
    for (const [socketKey, m] of this.#memberships) {
      const [name, family] = socketKey.split("|");
      const keep = (wanted.get(name) ?? []).filter((w) => String(w.family) === family);
      if (keep.length === 0) {
        m.socket.close();
        this.#memberships.delete(socketKey);
        continue;
      }
      const keys = new Set(keep.map(membershipKey));
      for (const [key, w] of m.joined) if (!keys.has(key)) this.#leave(name, m, key, w);
    }
    const ports = new Set(unicastPorts(config).map((u) => `${u.ifname}|${u.address}|${u.port}`));
    for (const [key, a] of this.#absorbers) {
      if (ports.has(key)) continue;
      a.absorber.close();
      this.#absorbers.delete(key);
    }
  }

  #leave(name: string, m: Membership, key: string, w: MembershipKey): void {
    try {
      m.socket.leave(m.ifindex, ip(w.group), w.source === null ? null : ip(w.source), membershipLabel(w));
    } catch (err) {
      this.#log.warn("leaving group failed", { interface: name, error: (err as Error).message });
    }
    m.joined.delete(key);
  }

  // ---- workers --------------------------------------------------------------

  #spawn(h: WorkerHandle): void {
    const worker = new Worker(new URL("../dataplane/worker.ts", import.meta.url).href, {
      type: "module",
      name: `mcr-worker-${h.id}`,
    });
    h.worker = worker;
    h.alive = true;
    h.waiterHandle = -1;
    let readyResolve!: () => void;
    let stoppedResolve!: () => void;
    h.ready = new Promise((r) => readyResolve = r);
    h.stopped = new Promise((r) => stoppedResolve = r);
    worker.onmessage = (e: MessageEvent<FromWorker>) => {
      const m = e.data;
      switch (m.type) {
        case "ready":
          h.waiterHandle = m.waiterHandle;
          readyResolve();
          break;
        case "applied":
          h.rings = m.rings;
          h.waiting.get(m.generation)?.resolve();
          h.waiting.delete(m.generation);
          break;
        case "plan_error":
          h.waiting.get(m.generation)?.reject(new Error(`worker ${h.id}: ${m.message}`));
          h.waiting.delete(m.generation);
          break;
        case "fatal":
          this.#log.error("worker failed", { worker: h.id, error: m.message, code: m.code });
          this.#onWorkerDeath(h);
          break;
        case "stopped":
          h.alive = false;
          stoppedResolve();
          break;
      }
    };
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      this.#log.error("worker crashed", { worker: h.id, error: e.message });
      readyResolve();
      this.#onWorkerDeath(h);
    };
    const init: ToWorker = {
      type: "init",
      id: h.id,
      control: h.control.buffer as SharedArrayBuffer,
      workerCounters: h.counters.buffer as SharedArrayBuffer,
      ruleCounters: h.ruleCounters.buffer as SharedArrayBuffer,
      outputCounters: h.outputCounters.buffer as SharedArrayBuffer,
      waitTimeoutMs: this.#waitTimeoutMs,
    };
    worker.postMessage(init);
  }

  /** Archives a dead worker's counters and starts a replacement with the current plan. */
  #onWorkerDeath(h: WorkerHandle): void {
    if (!h.alive) return;
    h.alive = false;
    h.worker?.terminate();
    // Its sockets would go on taking packets (and their share of a
    // PACKET_FANOUT group) into rings nobody reads. A socket lives while its
    // fd, its ring mapping or an io_uring poll holds it: close the fd, cover
    // the mapping with zero pages (a stale view reads zeros, never faults),
    // and close the io_uring once any wait in progress has timed out.
    const lib = loadLibrary();
    for (const r of h.rings) lib.mcr_ring_close(r.fd, BigInt(r.address), BigInt(r.length));
    h.rings = [];
    const waiter = h.waiterHandle;
    h.waiterHandle = -1;
    if (waiter >= 0) setTimeout(() => lib.mcr_waiter_close(waiter), 5 * this.#waitTimeoutMs);
    for (const p of h.waiting.values()) p.reject(new Error(`worker ${h.id} died`));
    h.waiting.clear();
    if (this.#stopping) return;
    addInto(this.#archived.worker, h.counters);
    addInto(this.#archived.rule, h.ruleCounters);
    addInto(this.#archived.output, h.outputCounters);
    const replacement = new WorkerHandle(h.id, h.restarts + 1);
    this.#workers[this.#workers.indexOf(h)] = replacement;
    this.#spawn(replacement);
    replacement.ready.then(() => {
      if (this.#plan && replacement.alive) {
        return this.#sendPlanTo(replacement, { ...this.#plan, generation: this.#generation });
      }
    }).catch((err) => this.#log.error("restarted worker rejected the plan", { worker: h.id, error: String(err) }));
  }

  #sendPlan(plan: WorkerPlan): Promise<void[]> {
    return Promise.all(this.#workers.filter((w) => w.alive).map((w) => this.#sendPlanTo(w, plan)));
  }

  #sendPlanTo(w: WorkerHandle, plan: WorkerPlan): Promise<void> {
    const done = new Promise<void>((resolve, reject) => {
      w.waiting.set(plan.generation, { resolve, reject });
      setTimeout(() => {
        if (w.waiting.delete(plan.generation)) {
          reject(new Error(`worker ${w.id} did not apply configuration generation ${plan.generation} in time`));
        }
      }, this.#applyTimeoutMs);
    });
    w.worker!.postMessage({ type: "plan", plan } satisfies ToWorker);
    Atomics.store(w.control, CONTROL_REQUESTED_GEN, plan.generation);
    Atomics.compareExchange(w.control, CONTROL_COMMAND, 0, COMMAND_RECONFIGURE);
    if (w.waiterHandle >= 0) Waiter.notifyHandle(w.waiterHandle);
    return done;
  }

  /**
   * A worker's loop turns at least every waitTimeoutMs (it wakes from its wait
   * even when idle), so a heartbeat older than STUCK_MS means it is stuck:
   * terminate and restart it. Checked every 100 ms: a hang is detected in
   * under half a second, and as soon as the worker's sockets are released
   * PACKET_FANOUT hands its flows to the other workers.
   */
  #checkProgress(): void {
    const now = Date.now();
    const stuckMs = Math.max(300, 3 * this.#waitTimeoutMs);
    for (const w of this.#workers) {
      const hb = w.counters[HEARTBEAT_SLOT];
      if (!w.alive || w.waiterHandle < 0 || hb === 0) continue;
      if (now - hb > stuckMs) {
        this.#log.error("worker made no progress; restarting it", { worker: w.id, stalled_ms: now - hb });
        this.#onWorkerDeath(w);
      }
    }
  }

  /** Test hook (MCR_FAULT_INJECTION=1 only): make a worker throw or hang. */
  injectFault(workerId: number, kind: "throw" | "hang"): boolean {
    const w = this.#workers.find((x) => x.id === workerId && x.alive);
    if (!w) return false;
    Atomics.store(w.control, CONTROL_COMMAND, kind === "throw" ? COMMAND_FAULT_THROW : COMMAND_FAULT_HANG);
    if (w.waiterHandle >= 0) Waiter.notifyHandle(w.waiterHandle);
    return true;
  }

  // ---- statistics -----------------------------------------------------------

  #sample(): void {
    const now = Date.now();
    for (const r of this.stats().rules) {
      const packets = r.counters.packets;
      const last = this.#lastPackets.get(r.name);
      if (!last || packets !== last.packets) this.#lastPackets.set(r.name, { packets, changedAt: now });
    }
  }

  stats(): StatsSnapshot {
    const now = Date.now();
    const sumSlot = (kind: "rule" | "output", slot: number, width: number, index: number): number => {
      let v = (kind === "rule" ? this.#archived.rule : this.#archived.output)[slot * width + index];
      for (const w of this.#workers) v += (kind === "rule" ? w.ruleCounters : w.outputCounters)[slot * width + index];
      return v;
    };
    const workerValues = (a: Float64Array): CounterValues => {
      const out: CounterValues = {};
      WORKER_COUNTERS.forEach((c, i) => out[c.name] = a[i]);
      DROP_REASONS.forEach((d) => out[`drop_${d.name}`] = a[DROP_SLOT_BASE + d.id - 1]);
      return out;
    };
    const totalsArray = new Float64Array(this.#archived.worker);
    for (const w of this.#workers) addInto(totalsArray, w.counters);
    const totals = workerValues(totalsArray);
    totals.heartbeat_ms = Math.max(0, ...this.#workers.map((w) => w.counters[WORKER_COUNTERS.findIndex((c) => c.name === "heartbeat_ms")]));
    const hbIndex = WORKER_COUNTERS.findIndex((c) => c.name === "heartbeat_ms");
    const workers: WorkerStats[] = this.#workers.map((w) => ({
      id: w.id,
      alive: w.alive,
      restarts: w.restarts,
      heartbeat_age_ms: w.counters[hbIndex] > 0 ? Math.max(0, now - w.counters[hbIndex]) : now - this.#startedAt,
      counters: workerValues(w.counters),
    }));
    const rules: RuleStats[] = activeRules(this.#config).map((r) => {
      const s = this.#slots.get(r.name);
      const counters: CounterValues = {};
      RULE_COUNTERS.forEach((c, i) => counters[c.name] = s ? sumSlot("rule", s.rule, RULE_SLOTS, i) : 0);
      const last = this.#lastPackets.get(r.name);
      return {
        name: r.name,
        input: { ...r.input },
        counters,
        silent_ms: last ? now - last.changedAt : now - this.#startedAt,
        active: this.#plan?.rules.some((p) => p.name === r.name) ?? false,
        outputs: r.outputs.map((o, j) => {
          const oc: CounterValues = {};
          OUTPUT_COUNTERS.forEach((c, i) => oc[c.name] = s ? sumSlot("output", s.outputs[j], OUTPUT_SLOTS, i) : 0);
          return { ...o, counters: oc };
        }),
      };
    });
    return { at_ms: now, uptime_s: (now - this.#startedAt) / 1000, totals, workers, rules };
  }

  interfaces(): InterfaceState[] {
    const names = interfacesOf(this.#config);
    const all = new Set([...names.inputs, ...names.outputs]);
    return [...all].map((name) => {
      const info = interfaceInfo(name);
      const roles: ("input" | "output")[] = [];
      if (names.inputs.includes(name)) roles.push("input");
      if (names.outputs.includes(name)) roles.push("output");
      const events = this.#interfaceEvents.get(name) ?? 0;
      const kernel = { rx_packets: 0, rx_dropped: 0, tx_packets: 0, tx_dropped: 0 };
      if (!info) {
        return { name, ifindex: 0, up: false, present: false, mtu: 0, mac: "", ipv4: null, ipv6: null, roles, events, ...kernel };
      }
      for (const k of Object.keys(kernel) as (keyof typeof kernel)[]) kernel[k] = readInterfaceCounter(name, k);
      const ip = info.ipv4;
      return {
        name,
        ifindex: info.ifindex,
        up: info.up,
        present: true,
        mtu: info.mtu,
        mac: info.macText,
        ipv4: ip === 0 ? null : formatIp(fromWords(4, [ip])),
        ipv6: info.ipv6 ? formatIp({ family: 6, bytes: info.ipv6 }) : null,
        roles,
        events,
        ...kernel,
      };
    });
  }
}
