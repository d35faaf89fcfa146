/**
 * The rings and sockets one worker holds, kept in step with its plans.
 * apply(plan) closes what the plan no longer wants (or wants differently),
 * opens what is new, and returns the loop tables; rings that stay keep their
 * cursors. An RX ring that must be re-created (new fanout group, geometry)
 * is not closed: it stays a predecessor until the succession's cut retires
 * it, and its successor waits, held, for the release (succession.ts).
 * Every native object lives in the worker's arena, so a stuck worker can be
 * fenced by the supervisor as a whole (ffi/arena.ts).
 */
import type { HoldArea } from "../merge/merge_stage.ts";
import type { MergedPair } from "./tables.ts";
import { Arena } from "../../ffi/arena.ts";
import { RxRing, TxRing } from "../../ffi/packet_ring.ts";
import { ROUTED_BATCH, RoutedSocket } from "../../ffi/routed.ts";
import type { Waiter } from "../../ffi/waiter.ts";
import { fromWords } from "../net/address.ts";
import type { HeldRing } from "./channel.ts";
import {
  type OutputPlan,
  ringKey,
  type RxPlan,
  sameRx,
  type TxPlan,
  type WorkerPlan,
} from "./plan_types.ts";
import type { InputPort, RoutedPort, TxPort } from "./rule_table.ts";
import { buildTables, portOnRing, type RoutedRef, type RuleCache } from "./tables.ts";
import { CUT_AFTER, CUT_BEFORE, CUT_HELD, CUT_NONE, CUT_RETIRED, cutAt } from "./succession.ts";
import { TP2_STATUS, TP_STATUS_SEND_REQUEST, TP_STATUS_SENDING } from "../../ffi/layout.ts";

interface OpenRx {
  plan: RxPlan;
  ring: RxRing;
  /** A successor not yet released: not read, its socket not in the waiter. */
  held: boolean;
}
interface OpenTx {
  plan: TxPlan;
  ring: TxRing;
}
interface OpenRouted {
  /** routedKey() of the output it was opened for. */
  key: string;
  socket: RoutedSocket;
  ref: RoutedRef;
  byteLength: number;
}

/** Kernel ring statistics summed over a worker's RX rings. */
export interface KernelRingStats {
  packets: number;
  drops: number;
  freezes: number;
}

export interface Tables {
  inputs: InputPort[];
  txPorts: TxPort[];
  routedPorts: RoutedPort[];
  /** The merged pairs this worker merges (src/merge/). */
  merges: MergedPair[];
}

/** Everything a routed output's socket is opened with: a new key means a new socket. */
function routedKey(o: OutputPlan): string {
  return [
    o.family,
    o.dst.join(),
    o.port,
    o.hasSrc ? o.src.join() : "-",
    o.ifindex,
    o.ttl,
    o.tos,
    o.maxPayload,
  ].join("|");
}

/** A TX ring is re-created when its interface, frame size (MTU), frame count or bypass changes. */
function sameTx(a: TxPlan, b: TxPlan): boolean {
  return a.ifindex === b.ifindex && a.geometry.frameSize === b.geometry.frameSize &&
    a.geometry.frameCount === b.geometry.frameCount &&
    a.geometry.qdiscBypass === b.geometry.qdiscBypass;
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

export class WorkerRings {
  readonly arena = Arena.open();
  /** The ring each input interface is read from (or, held, will be). */
  readonly #rx = new Map<number, OpenRx>();
  /** Predecessors: rings replaced in #rx, read until their cut retires them. */
  readonly #retiring = new Map<number, OpenRx>();
  readonly #tx = new Map<number, OpenTx>();
  /** Held-frame areas of resequencing merges, by rule name (with the block epoch they are for). */
  readonly #holds = new Map<string, HoldArea & { epoch: number; bytes: number }>();

  /**
   * Arena memory for the resequencing merges this worker does: a slot per
   * datagram its delay holds at the rule's table size (an area is kept
   * while the merge's block is), each slot the input's MTU plus headers.
   */
  #holdAreas(plan: WorkerPlan): Map<string, HoldArea> {
    const wanted = new Map<string, { epoch: number; slots: number; slotSize: number }>();
    for (const r of plan.rules) {
      const m = r.merge;
      if (m === undefined || m.mode !== "resequence" || m.owner !== this.workerId) continue;
      const maxPayload = Math.max(1500, ...r.outputs.map((o) => o.maxPayload));
      const slotSize = Math.ceil((maxPayload + 64) / 64) * 64;
      wanted.set(r.name, { epoch: m.epoch, slots: m.tableSize, slotSize });
    }
    for (const [name, h] of this.#holds) {
      const w = wanted.get(name);
      if (w && w.epoch === h.epoch && w.slots === h.slots && w.slotSize === h.slotSize) continue;
      this.arena.freePlain(h.offset, h.bytes);
      this.#holds.delete(name);
    }
    for (const [name, w] of wanted) {
      if (this.#holds.has(name)) continue;
      const bytes = w.slots * w.slotSize;
      this.#holds.set(name, { ...w, bytes, offset: this.arena.allocatePlain(bytes) });
    }
    return new Map(this.#holds);
  }

  /** Routed output sockets by output counter slot. */
  readonly #routed = new Map<number, OpenRouted>();
  #previous: Tables = { inputs: [], txPorts: [], routedPorts: [], merges: [] };
  /** Loop objects of unchanged rules, reused from plan to plan. */
  readonly #ruleCache: RuleCache = new Map();
  #kernel: KernelRingStats = { packets: 0, drops: 0, freezes: 0 };

  /**
   * `beat` is called between slow steps (ring creation) so the watchdog sees
   * progress; `workerId` picks this worker's share of spread rules' outputs.
   */
  constructor(
    readonly waiter: Waiter,
    readonly beat: () => void,
    readonly workerId = 0,
    /** The worker's inspected streams' blocks (src/streams/stream_slots.ts). */
    readonly streamCounters: Float64Array | null = null,
  ) {}

  /**
   * RX rings of the previous plan against the next one's (by key): gone ones
   * closed, changed ones retired (a succession's predecessor) or, if only
   * held, closed; a predecessor the next plan takes back is read on.
   */
  #settleRx(byKey: ReadonlyMap<number, RxPlan>): void {
    for (const [key, open] of this.#rx) {
      const next = byKey.get(key);
      const predecessor = this.#retiring.get(key);
      if (!next) {
        this.#closeRing(open);
        this.#rx.delete(key);
        continue;
      }
      if (sameRx(open.plan, next)) continue;
      this.#rx.delete(key);
      if (predecessor && sameRx(predecessor.plan, next)) {
        // The plan from before the succession is back (a roll-back before the
        // cut): the predecessor is read on; the held successor only had copies.
        this.#closeRing(open);
        this.#retiring.delete(key);
        this.#rx.set(key, predecessor);
      } else if (open.held) {
        this.#closeRing(open); // never read: it only held copies of what the predecessor has
      } else {
        this.#retiring.set(key, open);
      }
    }
    for (const [key, open] of this.#retiring) {
      if (byKey.has(key)) continue;
      this.#closeRing(open);
      this.#retiring.delete(key);
    }
  }

  /**
   * Applies a plan; returns the loop tables. Throws (leaving a consistent set
   * of rings) if a ring cannot be opened. A ring newly opened on an interface
   * in `hold` (read under the previous plan, here or by another worker), or
   * replacing one here, is a held successor.
   */
  apply(plan: WorkerPlan, hold: readonly number[] = []): Tables {
    // RX rings are keyed by ringKey(): the interface, a spread ring of it, or a ring one
    // worker owns (the merges' legs): rings another worker owns are not opened here.
    const mine = plan.rx.filter((p) => p.owner === undefined || p.owner === this.workerId);
    const byKey = new Map(mine.map((p) => [ringKey(p), p]));
    this.#settleRx(byKey);
    for (const [ifindex, open] of this.#tx) {
      const next = plan.tx.find((p) => p.ifindex === ifindex);
      if (!next || !sameTx(open.plan, next)) {
        this.#drainTx(open.ring);
        open.ring.close();
        this.arena.free(open.ring.offset, open.ring.byteLength);
        this.#tx.delete(ifindex);
      }
    }
    const routedPlans = new Map<number, OutputPlan>();
    for (const r of plan.rules) {
      for (const o of r.outputs) if (o.egress === "routed") routedPlans.set(o.slot, o);
    }
    for (const [slot, open] of this.#routed) {
      const next = routedPlans.get(slot);
      if (!next || routedKey(next) !== open.key) this.#closeRouted(slot, open);
    }
    for (const [slot, o] of routedPlans) if (!this.#routed.has(slot)) this.#openRouted(slot, o);
    for (const p of plan.tx) {
      if (this.#tx.has(p.ifindex)) continue;
      const ring = TxRing.open(this.arena, {
        ifindex: p.ifindex,
        ifname: p.ifname,
        frameSize: p.geometry.frameSize,
        frameCount: p.geometry.frameCount,
        qdiscBypass: p.geometry.qdiscBypass,
      });
      this.#tx.set(p.ifindex, { plan: p, ring });
      this.beat();
    }
    for (const p of mine) {
      const key = ringKey(p);
      let open = this.#rx.get(key);
      if (!open) {
        const held = this.#retiring.has(key) || hold.includes(key);
        const ring = this.#openRx(p);
        if (!held) this.waiter.addFd(ring.fd);
        open = { plan: p, ring, held };
        this.#rx.set(key, open);
        this.beat();
      }
      open.plan = p;
      open.ring.setFilter(p.filter, p.passFragments);
      // A predecessor passes what its successor will (the rules in force now).
      const predecessor = this.#retiring.get(key);
      if (predecessor) predecessor.ring.setFilter(p.filter, p.passFragments);
    }
    const rxRefs = new Map([...this.#rx].map(([k, v]) => [k, v.ring]));
    const txRefs = new Map([...this.#tx].map(([k, v]) => [k, v.ring]));
    const routedRefs = new Map([...this.#routed].map(([k, v]) => [k, v.ref]));
    const before = this.#previous.inputs;
    const tables = buildTables(
      plan,
      rxRefs,
      txRefs,
      this.#previous,
      routedRefs,
      this.#ruleCache,
      {
        index: this.workerId,
        count: plan.workerCount ?? 1,
        streams: this.streamCounters,
        holds: this.#holdAreas(plan),
      },
    );
    // Each port keeps its place in a succession; predecessors read with the
    // rules of their successor, from their own cursor.
    for (const port of tables.inputs) {
      const open = this.#rx.get(port.key)!;
      if (open.held) port.cut = CUT_HELD;
      else carryCut(port, before);
    }
    const predecessors: InputPort[] = [];
    for (const [key, open] of this.#retiring) {
      const successor = tables.inputs.find((q) => q.key === key)!;
      const port = portOnRing(
        successor.ifindex,
        key,
        open.ring,
        successor.rules,
        successor.fragmentRules,
        successor.ownSources,
      );
      const old = before.find((q) => q.ringId === open.ring.id);
      if (old) port.cursor = old.cursor;
      carryCut(port, before);
      predecessors.push(port);
    }
    tables.inputs = [...predecessors, ...tables.inputs];
    this.#previous = tables;
    return tables;
  }

  /** Rings in a succession: predecessors to cut and successors to release. */
  succession(): number {
    let n = this.#retiring.size;
    for (const open of this.#rx.values()) if (open.held) n++;
    return n;
  }

  /**
   * Puts every predecessor past the cut (succession.ts); returns how many
   * there are. `all`: this worker leaves the pool, every RX ring it reads is
   * a predecessor (its successors are in other workers).
   */
  cut(cutUs: number, all = false): number {
    if (all) {
      for (const [ifindex, open] of this.#rx) {
        if (open.held) this.#closeRing(open);
        else this.#retiring.set(ifindex, open);
        this.#rx.delete(ifindex);
      }
    }
    let n = 0;
    for (const open of this.#retiring.values()) {
      const port = this.#portOf(open);
      // A ring that was itself a successor (CUT_AFTER) is cut like any other.
      if (port && (port.cut === CUT_NONE || port.cut === CUT_AFTER)) cutAt(port, CUT_BEFORE, cutUs);
      if (port && port.cut === CUT_BEFORE) n++;
    }
    return n;
  }

  /** Closes the predecessors the loop has retired; returns the inputs left. */
  closeRetired(): InputPort[] {
    for (const [ifindex, open] of this.#retiring) {
      if (this.#portOf(open)?.cut !== CUT_RETIRED) continue;
      this.#closeRing(open);
      this.#retiring.delete(ifindex);
    }
    return this.#keepPorts();
  }

  /**
   * Releases the held successors: they forward what was stamped from the
   * cut on. A predecessor still open (its cut did not finish in time) is
   * closed first. Returns the inputs.
   */
  release(cutUs: number): InputPort[] {
    for (const [ifindex, open] of this.#retiring) {
      this.#closeRing(open);
      this.#retiring.delete(ifindex);
    }
    for (const open of this.#rx.values()) {
      if (!open.held) continue;
      open.held = false;
      this.waiter.addFd(open.ring.fd);
      const port = this.#portOf(open);
      if (port) cutAt(port, CUT_AFTER, cutUs);
    }
    return this.#keepPorts();
  }

  /** The loop's inputs without the ports of rings no longer open. */
  #keepPorts(): InputPort[] {
    const open = new Set([...this.#rx.values(), ...this.#retiring.values()].map((o) => o.ring.id));
    this.#previous.inputs = this.#previous.inputs.filter((p) => open.has(p.ringId));
    return this.#previous.inputs;
  }

  #portOf(open: OpenRx): InputPort | undefined {
    return this.#previous.inputs.find((p) => p.ringId === open.ring.id);
  }

  #openRx(p: RxPlan): RxRing {
    const options = {
      ifindex: p.ifindex,
      ifname: p.ifname,
      blockSize: p.geometry.blockSize,
      blockCount: p.geometry.blockCount,
      frameSize: p.geometry.frameSize,
      retireMs: p.geometry.retireMs,
      ignoreOutgoing: true,
      fanoutId: p.fanoutId === 0 ? undefined : p.fanoutId,
      frames: p.geometry.frames,
      vnetHdr: p.geometry.vnet ?? false,
    };
    try {
      return RxRing.open(this.arena, options);
    } catch (err) {
      // No room for both rings of a succession: the predecessor goes first
      // (what it holds is lost, as when a ring is re-created without one).
      const predecessor = this.#retiring.get(p.ifindex);
      if (!predecessor) throw err;
      this.#closeRing(predecessor);
      this.#retiring.delete(p.ifindex);
      return RxRing.open(this.arena, options);
    }
  }

  /** What this worker holds, for the supervisor's introspection. */
  held(): HeldRing[] {
    return [
      ...[...this.#rx.values(), ...this.#retiring.values()].map(({ plan, ring }) => ({
        kind: "rx" as const,
        ifindex: plan.ifindex,
        bytes: ring.byteLength,
      })),
      ...[...this.#tx.values()].map(({ plan, ring }) => ({
        kind: "tx" as const,
        ifindex: plan.ifindex,
        bytes: ring.byteLength,
      })),
      ...[...this.#routed.values()].map((o) => ({
        kind: "routed" as const,
        ifindex: 0,
        bytes: o.byteLength,
      })),
    ];
  }

  /** Kernel RX counters since the last call (including rings closed meanwhile). */
  kernelStats(): KernelRingStats {
    for (const { ring } of this.#rx.values()) this.#addStats(ring);
    for (const { ring } of this.#retiring.values()) this.#addStats(ring);
    const out = this.#kernel;
    this.#kernel = { packets: 0, drops: 0, freezes: 0 };
    return out;
  }

  /** The largest retire timeout of the open RX rings (how long a partly filled block may wait). */
  maxRetireMs(): number {
    return Math.max(1, ...[...this.#rx.values()].map((o) => o.plan.geometry.retireMs));
  }

  /** Releases everything (TX rings first drain what they still send) and gives the arena back. */
  releaseAll(): void {
    for (const open of [...this.#rx.values(), ...this.#retiring.values()]) this.#closeRing(open);
    this.#rx.clear();
    this.#retiring.clear();
    for (const { ring } of this.#tx.values()) {
      this.#drainTx(ring);
      ring.close();
    }
    this.#tx.clear();
    for (const [slot, open] of this.#routed) this.#closeRouted(slot, open);
    this.#holds.clear(); // their memory goes back with the arena
    this.arena.giveBack();
  }

  #addStats(ring: RxRing): void {
    const st = ring.stats();
    this.#kernel.packets += st.packets;
    this.#kernel.drops += st.drops;
    this.#kernel.freezes += st.freezes;
  }

  /** Closes an RX ring (the caller forgets it). */
  #closeRing(open: OpenRx): void {
    if (!open.held) this.waiter.removeFd(open.ring.fd);
    this.#addStats(open.ring);
    open.ring.close();
    this.arena.free(open.ring.offset, open.ring.byteLength);
  }

  /**
   * Waits (at most 100 ms, kicking again) until the kernel has sent every
   * frame still queued in a TX ring, so closing it loses nothing in flight.
   */
  #drainTx(ring: TxRing): void {
    const view = this.arena.view;
    for (let round = 0; round < 100; round++) {
      let busy = 0;
      for (let i = 0; i < ring.frameCount; i++) {
        const st = view.getUint32(ring.offset + i * ring.frameSize + TP2_STATUS, true);
        if (st === TP_STATUS_SEND_REQUEST || st === TP_STATUS_SENDING) busy++;
      }
      if (busy === 0) return;
      this.waiter.queueKick(ring.fd);
      this.waiter.submit();
      Atomics.wait(sleeper, 0, 0, 1);
    }
  }

  #openRouted(slot: number, o: OutputPlan): void {
    const socket = RoutedSocket.open(this.arena, {
      family: o.family,
      destination: fromWords(o.family, o.dst).bytes,
      port: o.port,
      source: o.hasSrc ? fromWords(o.family, o.src).bytes : null,
      ifindex: o.ifindex,
      hops: o.ttl,
      tclass: o.tos,
      label: `output slot ${slot}`,
    });
    const slotSize = Math.ceil(o.maxPayload / 64) * 64;
    const byteLength = slotSize * ROUTED_BATCH;
    let dataOffset: number;
    try {
      dataOffset = this.arena.allocatePlain(byteLength);
    } catch (err) {
      socket.close();
      throw err;
    }
    const ref: RoutedRef = {
      fd: socket.fd,
      name: socket.name,
      slotSize,
      slots: ROUTED_BATCH,
      dataOffset,
    };
    this.#routed.set(slot, { key: routedKey(o), socket, ref, byteLength });
  }

  #closeRouted(slot: number, open: OpenRouted): void {
    open.socket.close();
    this.arena.freePlain(open.ref.dataOffset, open.byteLength);
    this.#routed.delete(slot);
  }
}

/** A port rebuilt for a new plan keeps the succession state of its ring's previous port. */
function carryCut(port: InputPort, before: readonly InputPort[]): void {
  const old = before.find((q) => q.ringId === port.ringId);
  if (!old || old.cut === CUT_NONE) return;
  port.cut = old.cut;
  port.cutUs = old.cutUs;
  port.settleUs = old.settleUs;
}
