/**
 * Worker entry point: one forwarding thread. It opens its own native library
 * handle, arena, rings and waiter, applies plans from the supervisor and runs
 * forwardLoop() between them.
 *
 * A Worker blocked in the loop cannot receive messages, so the supervisor
 * posts a plan, sets CONTROL_COMMAND and wakes the waiter's eventfd; the loop
 * returns between blocks, this driver lets the event loop deliver the
 * message, applies it and re-enters the loop. Packets keep queueing in the
 * kernel rings meanwhile, so nothing is lost across a reconfiguration.
 */
/// <reference lib="deno.worker" />
import { Arena } from "../../ffi/arena.ts";
import { loadLibrary } from "../../ffi/library.ts";
import { RxRing, TxRing } from "../../ffi/packet_ring.ts";
import { RoutedSender, RoutedSocket, ROUTED_BATCH } from "../../ffi/routed.ts";
import { Waiter } from "../../ffi/waiter.ts";
import { fromWords } from "../net/address.ts";
import { W } from "../stats/registry.ts";
import type { OutputPlan, RxPlan, TxPlan, WorkerPlan } from "../supervisor/plan.ts";
import {
  COMMAND_RECONFIGURE,
  COMMAND_RUN,
  COMMAND_STOP,
  CONTROL_APPLIED_GEN,
  CONTROL_COMMAND,
  CONTROL_REQUESTED_GEN,
  COMMAND_FAULT_HANG,
  COMMAND_FAULT_THROW,
  flush,
  forwardLoop,
  LoopState,
  processBlock,
} from "./forward_loop.ts";
import type { InputPort, TxPort } from "./rule_table.ts";
import { buildTables, type RoutedRef } from "./tables.ts";

/** Messages from the supervisor. */
export type ToWorker =
  | {
    type: "init";
    id: number;
    control: SharedArrayBuffer;
    workerCounters: SharedArrayBuffer;
    ruleCounters: SharedArrayBuffer;
    outputCounters: SharedArrayBuffer;
    waitTimeoutMs: number;
  }
  | { type: "plan"; plan: WorkerPlan };

/** Messages to the supervisor. */
export type FromWorker =
  | { type: "ready"; id: number; waiterHandle: number }
  | { type: "applied"; id: number; generation: number; rings: RingRelease[] }
  | { type: "plan_error"; id: number; generation: number; message: string; code?: string }
  | { type: "fatal"; id: number; message: string; code?: string; op?: string }
  | { type: "stopped"; id: number };

/**
 * What the supervisor needs to release a ring if this worker dies: the fd
 * and the mapped range (address as a decimal string: pointers do not cross
 * threads, and BigInt keeps all 64 bits).
 */
export interface RingRelease {
  fd: number;
  address: string;
  length: number;
}

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

/** Everything a routed output's socket is opened with: a new key means a new socket. */
function routedKey(o: OutputPlan): string {
  return [o.family, o.dst.join(), o.port, o.hasSrc ? o.src.join() : "-", o.ifindex, o.ttl, o.tos, o.maxPayload].join("|");
}

const inbox: ToWorker[] = [];
let workerId = -1;
let wake: (() => void) | null = null;

self.onmessage = (e: MessageEvent<ToWorker>) => {
  inbox.push(e.data);
  wake?.();
};

function nextMessage(): Promise<ToWorker> {
  const m = inbox.shift();
  if (m) return Promise.resolve(m);
  return new Promise((resolve) => {
    wake = () => {
      wake = null;
      resolve(inbox.shift()!);
    };
  });
}

function post(m: FromWorker): void {
  self.postMessage(m);
}

/**
 * Whether an open RX ring can serve the new plan. Only a different interface
 * or fanout group forces a new ring: re-creating one drops what it holds and
 * leaves a gap for every rule on the interface, so a new size (rates change
 * as rules come and go) takes effect when the ring is re-created anyway.
 */
function sameRx(a: RxPlan, b: RxPlan): boolean {
  return a.ifindex === b.ifindex && a.fanoutId === b.fanoutId;
}

function sameTx(a: TxPlan, b: TxPlan): boolean {
  return a.ifindex === b.ifindex && a.geometry.frameSize === b.geometry.frameSize &&
    a.geometry.frameCount === b.geometry.frameCount && a.geometry.qdiscBypass === b.geometry.qdiscBypass;
}

/** Processes ready blocks until none is left, waiting once for partly filled blocks to retire. */
function drain(state: LoopState, retireWaitMs: number): void {
  for (let round = 0; round < 2; round++) {
    for (let n = 0; n < 100_000; n++) {
      let blocks = 0;
      for (const input of state.inputs) blocks += processBlock(state, input);
      if (blocks === 0) break;
    }
    if (round === 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, retireWaitMs);
  }
  flush(state);
}

async function main(): Promise<void> {
  const init = await nextMessage();
  if (init.type !== "init") throw new Error("worker: first message must be init");
  const id = init.id;
  workerId = id;
  const control = new Int32Array(init.control);
  const workerCounters = new Float64Array(init.workerCounters);
  const ruleCounters = new Float64Array(init.ruleCounters);
  const outputCounters = new Float64Array(init.outputCounters);

  loadLibrary();
  const arena = new Arena();
  const waiter = Waiter.open(256);
  post({ type: "ready", id, waiterHandle: waiter.handle });

  const rx = new Map<number, OpenRx>();
  const tx = new Map<number, OpenTx>();
  /** Routed output sockets by output counter slot. */
  const routed = new Map<number, OpenRouted>();
  const sender = new RoutedSender();
  let previous: { inputs: InputPort[]; txPorts: TxPort[] } = { inputs: [], txPorts: [] };
  let state: LoopState | null = null;

  /** Kernel ring statistics and kick tallies, about once a second and at exit. */
  const periodic = (): void => {
    for (const { ring } of rx.values()) {
      const st = ring.stats();
      workerCounters[W.kernel_packets] += st.packets;
      workerCounters[W.kernel_drops] += st.drops;
      workerCounters[W.kernel_freezes] += st.freezes;
    }
    const k = waiter.stats();
    workerCounters[W.tx_kicks] += k.kicks;
    workerCounters[W.tx_kick_errors] += k.kickErrors;
    workerCounters[W.tx_errors] += k.kickErrors;
    workerCounters[W.tx_kicks_deferred] += k.kicksDeferred;
    workerCounters[W.rx_socket_errors] += k.pollErrors;
    if (k.lastErrno !== 0) workerCounters[W.last_kick_errno] = k.lastErrno;
  };

  const applyPlan = (plan: WorkerPlan): void => {
    // Frames and datagrams still batched go out before anything changes.
    if (state !== null) flush(state);
    // Close rings that are gone or changed; keep the rest (and their cursors).
    for (const [ifindex, open] of rx) {
      const next = plan.rx.find((p) => p.ifindex === ifindex);
      if (!next || !sameRx(open.plan, next)) {
        waiter.removeFd(open.ring.fd);
        periodicOne(open.ring);
        open.ring.close();
        arena.free(open.ring.offset, open.ring.byteLength);
        rx.delete(ifindex);
      }
    }
    for (const [ifindex, open] of tx) {
      const next = plan.tx.find((p) => p.ifindex === ifindex);
      if (!next || !sameTx(open.plan, next)) {
        open.ring.close();
        arena.free(open.ring.offset, open.ring.byteLength);
        tx.delete(ifindex);
      }
    }
    const routedPlans = new Map<number, OutputPlan>();
    for (const r of plan.rules) for (const o of r.outputs) if (o.egress === "routed") routedPlans.set(o.slot, o);
    for (const [slot, open] of routed) {
      const next = routedPlans.get(slot);
      if (!next || routedKey(next) !== open.key) {
        open.socket.close();
        arena.freePlain(open.ref.dataOffset, open.byteLength);
        routed.delete(slot);
      }
    }
    for (const [slot, o] of routedPlans) {
      if (routed.has(slot)) continue;
      const destination = fromWords(o.family, o.dst);
      const socket = RoutedSocket.open({
        family: o.family,
        destination: destination.bytes,
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
        dataOffset = arena.allocatePlain(byteLength);
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
        dataPointer: arena.pointerTo(dataOffset),
      };
      routed.set(slot, { key: routedKey(o), socket, ref, byteLength });
    }
    for (const p of plan.tx) {
      if (tx.has(p.ifindex)) continue;
      const ring = TxRing.open(arena, {
        ifindex: p.ifindex,
        ifname: p.ifname,
        frameSize: p.geometry.frameSize,
        frameCount: p.geometry.frameCount,
        qdiscBypass: p.geometry.qdiscBypass,
      });
      tx.set(p.ifindex, { plan: p, ring });
    }
    for (const p of plan.rx) {
      let open = rx.get(p.ifindex);
      if (!open) {
        const ring = RxRing.open(arena, {
          ifindex: p.ifindex,
          ifname: p.ifname,
          blockSize: p.geometry.blockSize,
          blockCount: p.geometry.blockCount,
          frameSize: p.geometry.frameSize,
          retireMs: p.geometry.retireMs,
          ignoreOutgoing: true,
          fanoutId: p.fanoutId === 0 ? undefined : p.fanoutId,
        });
        waiter.addFd(ring.fd);
        open = { plan: p, ring };
        rx.set(p.ifindex, open);
      }
      open.plan = p;
      open.ring.setFilter(p.filter, p.passFragments);
    }
    const rxRefs = new Map([...rx].map(([k, v]) => [k, v.ring]));
    const txRefs = new Map([...tx].map(([k, v]) => [k, v.ring]));
    const routedRefs = new Map([...routed].map(([k, v]) => [k, v.ref]));
    const tables = buildTables(plan, rxRefs, txRefs, previous, routedRefs);
    previous = tables;
    state = new LoopState(
      arena.bytes,
      arena.view,
      tables.inputs,
      tables.txPorts,
      workerCounters,
      ruleCounters,
      outputCounters,
      control,
      waiter,
      periodic,
      tables.routedPorts,
      sender,
    );
  };

  const periodicOne = (ring: RxRing): void => {
    const st = ring.stats();
    workerCounters[W.kernel_packets] += st.packets;
    workerCounters[W.kernel_drops] += st.drops;
    workerCounters[W.kernel_freezes] += st.freezes;
  };

  /** Applies every plan waiting in the inbox up to the requested generation. */
  const drainPlans = async (): Promise<void> => {
    while (Atomics.load(control, CONTROL_APPLIED_GEN) < Atomics.load(control, CONTROL_REQUESTED_GEN)) {
      const m = await nextMessage();
      if (m.type !== "plan") continue;
      try {
        applyPlan(m.plan);
        Atomics.store(control, CONTROL_APPLIED_GEN, m.plan.generation);
        const rings = [
          ...[...rx.values(), ...tx.values()].map(({ ring }) => ({
            fd: ring.fd,
            address: arena.addressOf(ring.offset).toString(),
            length: ring.byteLength,
          })),
          ...[...routed.values()].map((o) => ({
            fd: o.socket.fd,
            address: arena.addressOf(o.ref.dataOffset).toString(),
            length: o.byteLength,
          })),
        ];
        post({ type: "applied", id, generation: m.plan.generation, rings });
      } catch (err) {
        Atomics.store(control, CONTROL_APPLIED_GEN, m.plan.generation);
        const e = err as Error & { code?: string };
        post({ type: "plan_error", id, generation: m.plan.generation, message: e.message, code: e.code });
      }
    }
  };

  await drainPlans();
  for (;;) {
    if (Atomics.load(control, CONTROL_COMMAND) === COMMAND_STOP) break;
    const command = state === null
      ? (waiter.wait(init.waitTimeoutMs), Atomics.load(control, CONTROL_COMMAND))
      : forwardLoop(state, init.waitTimeoutMs);
    if (command === COMMAND_STOP) break;
    if (command === COMMAND_FAULT_THROW) throw new Error("injected fault: worker throws");
    if (command === COMMAND_FAULT_HANG) for (;;) { /* injected fault: no progress, no heartbeat */ }
    if (command === COMMAND_RECONFIGURE) {
      Atomics.compareExchange(control, CONTROL_COMMAND, COMMAND_RECONFIGURE, COMMAND_RUN);
      await drainPlans();
    }
  }

  // Drain: forward what the rings already hold (the supervisor has left the
  // groups, so little more arrives), then final statistics, rings released.
  if (state !== null) drain(state, 2 * Math.max(1, ...[...rx.values()].map((o) => o.plan.geometry.retireMs)));
  periodic();
  for (const { ring } of rx.values()) ring.close();
  for (const { ring } of tx.values()) ring.close();
  for (const o of routed.values()) o.socket.close();
  waiter.close();
  post({ type: "stopped", id });
  self.close();
}

main().catch((err) => {
  const e = err as Error & { code?: string; op?: string };
  post({ type: "fatal", id: workerId, message: e.message, code: e.code, op: e.op });
  self.close();
});
