/**
 * The rings and sockets one worker holds, kept in step with its plans.
 * apply(plan) closes what the plan no longer wants (or wants differently),
 * opens what is new, and returns the loop tables; rings that stay keep their
 * cursors. Every native object lives in the worker's arena, so a stuck
 * worker can be fenced by the supervisor as a whole (ffi/arena.ts).
 */
import { Arena } from "../../ffi/arena.ts";
import { RxRing, TxRing } from "../../ffi/packet_ring.ts";
import { ROUTED_BATCH, RoutedSocket } from "../../ffi/routed.ts";
import type { Waiter } from "../../ffi/waiter.ts";
import { fromWords } from "../net/address.ts";
import type { HeldRing } from "./channel.ts";
import type { OutputPlan, RxPlan, TxPlan, WorkerPlan } from "./plan_types.ts";
import type { InputPort, RoutedPort, TxPort } from "./rule_table.ts";
import { buildTables, type RoutedRef } from "./tables.ts";
import { TP2_STATUS, TP_STATUS_SEND_REQUEST, TP_STATUS_SENDING } from "../../ffi/layout.ts";

interface OpenRx {
  plan: RxPlan;
  ring: RxRing;
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
}

/** Everything a routed output's socket is opened with: a new key means a new socket. */
function routedKey(o: OutputPlan): string {
  return [o.family, o.dst.join(), o.port, o.hasSrc ? o.src.join() : "-", o.ifindex, o.ttl, o.tos, o.maxPayload].join("|");
}

/**
 * Whether an open RX ring can serve the new plan. Only a different interface
 * or fanout group forces a new ring: re-creating one drops what it holds and
 * leaves a gap for every rule on the interface, so a new size (rates change
 * as rules come and go) takes effect when the ring is re-created anyway.
 */
function sameRx(a: RxPlan, b: RxPlan): boolean {
  return a.ifindex === b.ifindex && a.fanoutId === b.fanoutId && a.geometry.frames === b.geometry.frames &&
    (!a.geometry.frames || a.geometry.frameSize === b.geometry.frameSize);
}

/** A TX ring is re-created when its interface, frame size (MTU), frame count or bypass changes. */
function sameTx(a: TxPlan, b: TxPlan): boolean {
  return a.ifindex === b.ifindex && a.geometry.frameSize === b.geometry.frameSize &&
    a.geometry.frameCount === b.geometry.frameCount && a.geometry.qdiscBypass === b.geometry.qdiscBypass;
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

export class WorkerRings {
  readonly arena = Arena.open();
  readonly #rx = new Map<number, OpenRx>();
  readonly #tx = new Map<number, OpenTx>();
  /** Routed output sockets by output counter slot. */
  readonly #routed = new Map<number, OpenRouted>();
  #previous: Tables = { inputs: [], txPorts: [], routedPorts: [] };
  #kernel: KernelRingStats = { packets: 0, drops: 0, freezes: 0 };

  /** `beat` is called between slow steps (ring creation) so the watchdog sees progress. */
  constructor(readonly waiter: Waiter, readonly beat: () => void) {}

  /** Applies a plan; returns the loop tables. Throws (leaving a consistent set of rings) if a ring cannot be opened. */
  apply(plan: WorkerPlan): Tables {
    for (const [ifindex, open] of this.#rx) {
      const next = plan.rx.find((p) => p.ifindex === ifindex);
      if (!next || !sameRx(open.plan, next)) this.#closeRx(ifindex, open);
    }
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
    for (const r of plan.rules) for (const o of r.outputs) if (o.egress === "routed") routedPlans.set(o.slot, o);
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
    for (const p of plan.rx) {
      let open = this.#rx.get(p.ifindex);
      if (!open) {
        const ring = RxRing.open(this.arena, {
          ifindex: p.ifindex,
          ifname: p.ifname,
          blockSize: p.geometry.blockSize,
          blockCount: p.geometry.blockCount,
          frameSize: p.geometry.frameSize,
          retireMs: p.geometry.retireMs,
          ignoreOutgoing: true,
          fanoutId: p.fanoutId === 0 ? undefined : p.fanoutId,
          frames: p.geometry.frames,
        });
        this.waiter.addFd(ring.fd);
        open = { plan: p, ring };
        this.#rx.set(p.ifindex, open);
        this.beat();
      }
      open.plan = p;
      open.ring.setFilter(p.filter, p.passFragments);
    }
    const rxRefs = new Map([...this.#rx].map(([k, v]) => [k, v.ring]));
    const txRefs = new Map([...this.#tx].map(([k, v]) => [k, v.ring]));
    const routedRefs = new Map([...this.#routed].map(([k, v]) => [k, v.ref]));
    this.#previous = buildTables(plan, rxRefs, txRefs, this.#previous, routedRefs);
    return this.#previous;
  }

  /** What this worker holds, for the supervisor's introspection. */
  held(): HeldRing[] {
    return [
      ...[...this.#rx.values()].map(({ plan, ring }) => ({ kind: "rx" as const, ifindex: plan.ifindex, bytes: ring.byteLength })),
      ...[...this.#tx.values()].map(({ plan, ring }) => ({ kind: "tx" as const, ifindex: plan.ifindex, bytes: ring.byteLength })),
      ...[...this.#routed.values()].map((o) => ({ kind: "routed" as const, ifindex: 0, bytes: o.byteLength })),
    ];
  }

  /** Kernel RX counters since the last call (including rings closed meanwhile). */
  kernelStats(): KernelRingStats {
    for (const { ring } of this.#rx.values()) this.#addStats(ring);
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
    for (const [ifindex, open] of this.#rx) this.#closeRx(ifindex, open);
    for (const { ring } of this.#tx.values()) {
      this.#drainTx(ring);
      ring.close();
    }
    this.#tx.clear();
    for (const [slot, open] of this.#routed) this.#closeRouted(slot, open);
    this.arena.giveBack();
  }

  #addStats(ring: RxRing): void {
    const st = ring.stats();
    this.#kernel.packets += st.packets;
    this.#kernel.drops += st.drops;
    this.#kernel.freezes += st.freezes;
  }

  #closeRx(ifindex: number, open: OpenRx): void {
    this.waiter.removeFd(open.ring.fd);
    this.#addStats(open.ring);
    open.ring.close();
    this.arena.free(open.ring.offset, open.ring.byteLength);
    this.#rx.delete(ifindex);
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
    const ref: RoutedRef = { fd: socket.fd, name: socket.name, slotSize, slots: ROUTED_BATCH, dataOffset };
    this.#routed.set(slot, { key: routedKey(o), socket, ref, byteLength });
  }

  #closeRouted(slot: number, open: OpenRouted): void {
    open.socket.close();
    this.arena.freePlain(open.ref.dataOffset, open.byteLength);
    this.#routed.delete(slot);
  }
}
