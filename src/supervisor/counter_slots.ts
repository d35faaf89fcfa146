/**
 * Counter slots: every rule and every output of the configuration in force
 * owns a slot in the workers' counter blocks (src/stats/registry.ts). Slots
 * are kept across configuration changes (a rule keeps its slot, an output
 * keeps its slot while its destination stays), reused after release, and
 * assigned transactionally: propose() changes nothing, commit() makes the
 * proposal the state and returns the slots to zero, and a proposal that is
 * never committed leaves no trace (a failed apply leaks nothing).
 *
 * A merge rule's block (its window table and figures, src/merge/) is held
 * here the same way: kept while the rule's merge settings are, a new one
 * (a fresh merge) when they change.
 */
import { outputDestination, type Rule } from "../config/schema.ts";
import { MAX_OUTPUT_SLOTS, MAX_RULE_SLOTS } from "../stats/registry.ts";
import { MAX_STREAMS } from "../streams/stream_slots.ts";
import { newBlock } from "../merge/merge_slots.ts";
import { tableSize } from "../merge/merge_table.ts";
import type { RuleSlots } from "./plan.ts";

/** A rule's slots and, for each output, the key its slot is tied to. */
export interface SlotAssignment extends RuleSlots {
  outputKeys: string[];
  /** What its stream slot is tied to (its inspect settings), "" when not inspected. */
  streamKey: string;
  /** What its merge block is tied to (its merge settings and rate), "" when not a merge. */
  mergeKey: string;
}

/** What a merge rule's block is tied to: the same settings keep the same merge going. */
function mergeKey(r: Rule): string {
  return r.merge === undefined ? "" : JSON.stringify([r.merge, r.rate_pps ?? 0]);
}

/** What an inspected rule's stream slot is tied to: new settings, a new (zeroed) block. */
function streamKey(r: Rule): string {
  return r.inspect === undefined ? "" : JSON.stringify(r.inspect);
}

/** What an output's slot is tied to: the same key keeps the same slot. */
export function outputKey(o: Rule["outputs"][number]): string {
  return `${o.egress ?? "l2"}|${o.interface}|${outputDestination(o)}|${o.port}`;
}

/** A rule's slot keys, by rule object (a validated rule is never mutated): one change computes one rule's. */
const slotKeys = new WeakMap<Rule, { outputKeys: string[]; sKey: string; mKey: string }>();

function keysOf(r: Rule): { outputKeys: string[]; sKey: string; mKey: string } {
  let k = slotKeys.get(r);
  if (k === undefined) {
    slotKeys.set(
      r,
      k = { outputKeys: r.outputs.map(outputKey), sKey: streamKey(r), mKey: mergeKey(r) },
    );
  }
  return k;
}

/** One pool of slot numbers: a free list and a high-water mark. */
interface Pool {
  free: number[];
  next: number;
}

function take(pool: Pool, max: number, what: string): number {
  const reused = pool.free.pop();
  if (reused !== undefined) return reused;
  if (pool.next >= max) throw new RangeError(`more than ${max} ${what} (counter slots exhausted)`);
  return pool.next++;
}

/** Slots a commit released: the caller zeroes them in every counter block. */
export interface ReleasedSlots {
  rules: number[];
  outputs: number[];
  streams: number[];
  /** Stream slots kept by a rule whose inspect settings changed: their figures start again. */
  resetStreams: number[];
}

export interface SlotProposal {
  readonly assigned: ReadonlyMap<string, SlotAssignment>;
  /** Makes this proposal the state; returns what is no longer used. Stale after another commit. */
  commit(): ReleasedSlots;
}

export class CounterSlots {
  #assigned = new Map<string, SlotAssignment>();
  /** The rule objects #assigned was made for: the same object keeps its assignment object as it is. */
  #ruleObjects = new Map<string, Rule>();
  #rules: Pool = { free: [], next: 0 };
  #outputs: Pool = { free: [], next: 0 };
  #streams: Pool = { free: [], next: 0 };
  /** Each new inspect setting of a stream slot gets the next epoch (the workers restart its figures). */
  #epoch = 0;
  /** Each new merge block gets the next number (part of its rule plan's identity). */
  #mergeEpoch = 0;
  #version = 0;

  constructor(
    readonly maxRules = MAX_RULE_SLOTS,
    readonly maxOutputs = MAX_OUTPUT_SLOTS,
    readonly maxStreams = MAX_STREAMS,
  ) {}

  /** The slots of the configuration in force, by rule name. */
  get assigned(): ReadonlyMap<string, SlotAssignment> {
    return this.#assigned;
  }

  /** Slot numbers handed out and not free (for introspection). */
  /** One past the highest slot ever handed out (how much of each counter block is in use). */
  extent(): { rules: number; outputs: number; streams: number } {
    return { rules: this.#rules.next, outputs: this.#outputs.next, streams: this.#streams.next };
  }

  inUse(): { rules: number; outputs: number; streams: number } {
    return {
      rules: this.#rules.next - this.#rules.free.length,
      outputs: this.#outputs.next - this.#outputs.free.length,
      streams: this.#streams.next - this.#streams.free.length,
    };
  }

  /**
   * Slots for `rules` (the active rules of the next configuration), without
   * changing anything. Throws RangeError if they need more slots than exist.
   */
  propose(rules: readonly Rule[]): SlotProposal {
    const rulePool: Pool = { free: this.#rules.free.slice(), next: this.#rules.next };
    const outputPool: Pool = { free: this.#outputs.free.slice(), next: this.#outputs.next };
    const streamPool: Pool = { free: this.#streams.free.slice(), next: this.#streams.next };
    // Slots the next configuration keeps are not free for its new rules.
    const keptRules = new Set<number>();
    const keptOutputs = new Set<number>();
    const keptStreams = new Set<number>();
    const plans = rules.map((r) => {
      const prev = this.#assigned.get(r.name);
      if (prev !== undefined && this.#ruleObjects.get(r.name) === r) {
        // The rule in force, unchanged: everything it holds is kept, its assignment reused.
        keptRules.add(prev.rule);
        for (const o of prev.outputs) keptOutputs.add(o);
        if (prev.stream !== undefined) keptStreams.add(prev.stream);
        return prev;
      }
      const { outputKeys, sKey } = keysOf(r);
      const outputs = outputKeys.map((k) => {
        const i = prev ? prev.outputKeys.indexOf(k) : -1;
        if (i >= 0 && !keptOutputs.has(prev!.outputs[i])) {
          keptOutputs.add(prev!.outputs[i]);
          return prev!.outputs[i];
        }
        return -1;
      });
      if (prev) keptRules.add(prev.rule);
      // An inspected rule keeps its stream slot; new settings start its figures again (a new epoch).
      const keepStream = prev !== undefined && sKey !== "" && prev.stream !== undefined;
      if (keepStream) keptStreams.add(prev!.stream!);
      const stream = keepStream ? prev!.stream! : -1;
      const epoch = keepStream && prev!.streamKey === sKey ? prev!.streamEpoch! : -1;
      return {
        name: r.name,
        rule: prev ? prev.rule : -1,
        outputs,
        outputKeys,
        sKey,
        stream,
        epoch,
      };
    });
    const assigned = new Map<string, SlotAssignment>();
    const resetStreams: number[] = [];
    let epoch = this.#epoch;
    let mergeEpoch = this.#mergeEpoch;
    const ruleObjects = new Map<string, Rule>();
    for (let i = 0; i < plans.length; i++) {
      const p = plans[i];
      const r = rules[i];
      ruleObjects.set(r.name, r);
      if (!("sKey" in p)) {
        assigned.set(r.name, p);
        continue;
      }
      const rule = p.rule >= 0 ? p.rule : take(rulePool, this.maxRules, "rules");
      const outputs = p.outputs.map((o) =>
        o >= 0 ? o : take(outputPool, this.maxOutputs, "outputs")
      );
      const stream = p.sKey === ""
        ? undefined
        : p.stream >= 0
        ? p.stream
        : take(streamPool, this.maxStreams, "inspected streams");
      if (stream !== undefined && p.stream >= 0 && p.epoch < 0) resetStreams.push(stream);
      const mKey = keysOf(r).mKey;
      const prev = this.#assigned.get(p.name);
      const merge = mKey === ""
        ? undefined
        : prev?.mergeKey === mKey && prev.merge !== undefined
        ? prev.merge
        : newMerge(r, ++mergeEpoch);
      assigned.set(p.name, {
        rule,
        outputs,
        outputKeys: p.outputKeys,
        streamKey: p.sKey,
        mergeKey: mKey,
        ...(stream === undefined ? {} : { stream, streamEpoch: p.epoch >= 0 ? p.epoch : ++epoch }),
        ...(merge === undefined ? {} : { merge }),
      });
    }
    const version = this.#version;
    return {
      assigned,
      commit: (): ReleasedSlots => {
        if (version !== this.#version) throw new Error("stale slot proposal");
        this.#version++;
        const released: ReleasedSlots = { rules: [], outputs: [], streams: [], resetStreams };
        for (const s of this.#assigned.values()) {
          if (!keptRules.has(s.rule)) released.rules.push(s.rule);
          for (const o of s.outputs) if (!keptOutputs.has(o)) released.outputs.push(o);
          if (s.stream !== undefined && !keptStreams.has(s.stream)) released.streams.push(s.stream);
        }
        rulePool.free.push(...released.rules);
        outputPool.free.push(...released.outputs);
        streamPool.free.push(...released.streams);
        this.#rules = rulePool;
        this.#outputs = outputPool;
        this.#streams = streamPool;
        this.#epoch = epoch;
        this.#mergeEpoch = mergeEpoch;
        this.#assigned = assigned;
        this.#ruleObjects = ruleObjects;
        return released;
      },
    };
  }
}

/** A fresh merge block for `r`, sized for its window and rate. */
function newMerge(
  r: Rule,
  epoch: number,
): { block: SharedArrayBuffer; tableSize: number; epoch: number } {
  const size = tableSize(r);
  return { block: newBlock(size, (r.merge!.key ?? "rtp") === "hash"), tableSize: size, epoch };
}
