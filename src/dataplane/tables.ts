/**
 * Plan -> loop tables: turns a WorkerPlan plus the worker's open rings into
 * the monomorphic objects the forwarding loop reads (InputPort, TxPort,
 * Rule, Output). Pure, so tests build tables over fake rings.
 */
import type { WorkerPlan } from "../supervisor/plan.ts";
import {
  buildChains,
  fragmentKey,
  groupMac,
  InputPort,
  Output,
  Rule,
  ruleKey,
  TxPort,
} from "./rule_table.ts";

/** An open RX ring as the tables need it. */
export interface RxRingRef {
  fd: number;
  offset: number;
  blockSize: number;
  blockCount: number;
}

/** An open TX ring as the tables need it. */
export interface TxRingRef {
  fd: number;
  offset: number;
  frameSize: number;
  frameCount: number;
}

/**
 * Builds the tables. `previousPorts` keeps ring cursors across plans: a TX
 * port whose ring (same fd) is kept continues at its head; an input keeps
 * its block cursor.
 */
export function buildTables(
  plan: WorkerPlan,
  rxRings: ReadonlyMap<number, RxRingRef>,
  txRings: ReadonlyMap<number, TxRingRef>,
  previous: { inputs: readonly InputPort[]; txPorts: readonly TxPort[] } = { inputs: [], txPorts: [] },
): { inputs: InputPort[]; txPorts: TxPort[] } {
  const txPorts = new Map<number, TxPort>();
  for (const t of plan.tx) {
    const ring = txRings.get(t.ifindex);
    if (!ring) throw new Error(`no TX ring open for interface "${t.ifname}"`);
    const old = previous.txPorts.find((p) => p.ifindex === t.ifindex && p.fd === ring.fd);
    const port = new TxPort(
      t.ifindex,
      ring.fd,
      ring.offset,
      ring.frameSize,
      ring.frameCount,
      new Uint8Array(t.mac),
      Math.min(ring.frameSize - 32, t.mtu + 14),
    );
    if (old) port.head = old.head;
    txPorts.set(t.ifindex, port);
  }

  const rulesByInput = new Map<number, Rule[]>();
  for (const r of plan.rules) {
    const outputs = r.outputs.map((o) => {
      const tx = txPorts.get(o.ifindex);
      if (!tx) throw new Error(`rule "${r.name}": no TX port for ifindex ${o.ifindex}`);
      return new Output(tx, o.slot, o.group, o.port, o.srcIp, o.ttl, o.tos, groupMac(o.group), r.group, r.port);
    });
    const rule = new Rule(r.slot, r.group, r.port, r.srcAddr, r.srcMask, r.allowFragments, outputs);
    const list = rulesByInput.get(r.inputIfindex);
    if (list) list.push(rule);
    else rulesByInput.set(r.inputIfindex, [rule]);
  }

  const inputs: InputPort[] = [];
  for (const rx of plan.rx) {
    const ring = rxRings.get(rx.ifindex);
    if (!ring) throw new Error(`no RX ring open for interface "${rx.ifname}"`);
    const rules = rulesByInput.get(rx.ifindex) ?? [];
    const input = new InputPort(
      rx.ifindex,
      ring.fd,
      ring.offset,
      ring.blockSize,
      ring.blockCount,
      buildChains(rules, (r) => ruleKey(r.group, r.port), "next"),
      buildChains(rules.filter((r) => r.allowFragments), (r) => fragmentKey(r.group), "nextFragment"),
    );
    const old = previous.inputs.find((p) => p.ifindex === rx.ifindex && p.fd === ring.fd);
    if (old) input.cursor = old.cursor;
    inputs.push(input);
  }
  return { inputs, txPorts: [...txPorts.values()] };
}
