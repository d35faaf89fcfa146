/**
 * What a worker is told to do: the plan the supervisor computes (src/supervisor/
 * plan.ts) and the data plane applies. It lives here, with its consumer, so
 * that imports only point down: supervisor -> dataplane, never back up.
 * Plans are structured-cloneable (posted to Worker threads).
 */
import type { Family } from "../net/address.ts";
import type { InspectPlan } from "../streams/inspector.ts";
import type { MergePlan } from "../merge/merge_stage.ts";

export interface RxGeometry {
  /** TPACKET_V2 frames (one packet per frame, woken per packet) rather than TPACKET_V3 blocks. */
  frames: boolean;
  blockSize: number;
  blockCount: number;
  /** tp_frame_size: frames mode, the slot of one packet; blocks mode, only checked by the kernel. */
  frameSize: number;
  retireMs: number;
  /** block_size * block_count: bytes mapped. */
  bytes: number;
  /** PACKET_VNET_HDR (an input with `gso`): every packet comes with its segmentation header. */
  vnet?: boolean;
}

export interface TxGeometry {
  frameSize: number;
  frameCount: number;
  bytes: number;
  qdiscBypass: boolean;
}

/** One (destination, port) the kernel filter lets through. */
export interface FilterEntry {
  family: Family;
  /** Destination address words (int32). */
  dst: number[];
  port: number;
}

export interface RxPlan {
  ifname: string;
  ifindex: number;
  geometry: RxGeometry;
  /** PACKET_FANOUT group id (0: no fanout, single worker, or a spread ring). */
  fanoutId: number;
  filter: FilterEntry[];
  passFragments: boolean;
  /**
   * A ring for the interface's spread rules (RulePlan.spread): in no fanout
   * group, so every worker takes every packet of those rules (and only
   * those: its filter holds only their streams).
   */
  spread?: boolean;
  /**
   * A ring only this worker opens (with several workers: the one that
   * merges the pairs whose legs it carries; src/merge/): in no fanout group,
   * its filter holds only those legs' streams. Absent: every worker.
   */
  owner?: number;
}

/** Keys of spread rings are their interface's index plus this (interface indexes stay far below). */
const SPREAD_KEY = 1 << 24;

/**
 * The key of an input ring in a worker: its interface index; for a spread
 * ring that plus SPREAD_KEY; for a ring owned by worker k that plus (k + 2) * SPREAD_KEY.
 */
export function rxKey(ifindex: number, spread: boolean | undefined, owner?: number): number {
  if (owner !== undefined && owner >= 0) return ifindex + (owner + 2) * SPREAD_KEY;
  return spread ? ifindex + SPREAD_KEY : ifindex;
}

/** The key of a ring of a plan (rxKey of its interface, kind and owner). */
export function ringKey(r: { ifindex: number; spread?: boolean; owner?: number }): number {
  return rxKey(r.ifindex, r.spread, r.owner);
}

/**
 * Whether an open RX ring can serve the new plan. Only a different interface,
 * fanout group or ring kind forces a new ring (a succession, which the
 * supervisor runs with a new fanout group); a new block size or count (rates
 * change as rules come and go) takes effect when the ring is re-created anyway.
 */
export function sameRx(a: RxPlan, b: RxPlan): boolean {
  return a.ifindex === b.ifindex && (a.spread ?? false) === (b.spread ?? false) &&
    (a.owner ?? -1) === (b.owner ?? -1) &&
    a.fanoutId === b.fanoutId &&
    a.geometry.frames === b.geometry.frames &&
    (a.geometry.vnet ?? false) === (b.geometry.vnet ?? false) &&
    (!a.geometry.frames || a.geometry.frameSize === b.geometry.frameSize);
}

export interface TxPlan {
  ifname: string;
  ifindex: number;
  mac: number[];
  mtu: number;
  geometry: TxGeometry;
}

/** OutputPlan.ttl of an output that writes the input's TTL (hop limit) minus one. */
export const TTL_DECREMENT = -1;

export interface OutputPlan {
  /** "l2": a frame in the interface's TX ring; "routed": a datagram on a kernel UDP socket. */
  egress: "l2" | "routed";
  /** Egress interface (0: routed output left to the routing table). */
  ifindex: number;
  slot: number;
  family: Family;
  /** Destination address words (int32). */
  dst: number[];
  port: number;
  /** Source address words (int32); all zero for a routed output without source_ip. */
  src: number[];
  /** Routed outputs: whether the socket binds src (else the kernel picks it). */
  hasSrc: boolean;
  /** Fixed TTL / hop limit, or TTL_DECREMENT (the input's minus one). */
  ttl: number;
  /** 802.1Q VLAN id to tag frames with (l2), 0 or absent for none. */
  vlan?: number;
  /** DSCP << 2, or -1 to keep the input's TOS / traffic class. */
  tos: number;
  /** Routed outputs: largest payload a batch slot holds (the input's MTU). */
  maxPayload: number;
  /** l2 outputs: the UDP source port written (absent or -1: the sender's kept). */
  srcPort?: number;
}

export interface RulePlan {
  name: string;
  slot: number;
  inputIfindex: number;
  family: Family;
  /** Input destination (group or unicast address) words (int32). */
  dst: number[];
  port: number;
  /** Source filter: (src & srcMask) === srcAddr word by word; mask 0 accepts any sender. */
  srcAddr: number[];
  srcMask: number[];
  /** Source prefix length (most specific first when rules share a group). */
  srcPrefix: number;
  allowFragments: boolean;
  /** IP protocol of the stream (17 UDP when absent); `port` is 0 for other protocols. */
  protocol?: number;
  /** The VLAN tags the input's frames must carry: vlanKey(outer, inner), 0 or absent for untagged. */
  vlan?: number;
  /**
   * Its copies are written by every worker (more than one runs): each reads
   * the rule's packets from a spread ring, worker i writes the outputs whose
   * position p has p % workerCount === i, and worker 0 counts the rule.
   */
  spread?: boolean;
  /** Stream inspection of the rule's input (src/streams/inspector.ts), when asked for. */
  inspect?: InspectPlan;
  /**
   * A merge rule (src/merge/): its legs, key, mode and block. The fields
   * above describe leg 0; every leg is matched as a rule of its own.
   */
  merge?: MergePlan;
  outputs: OutputPlan[];
}

/** One number for a stack of VLAN ids, outermost first: 0 untagged, V, or (O << 12) | V for QinQ. */
export function vlanKey(outer: number, inner: number): number {
  return outer === 0 ? inner : outer * 4096 + inner;
}

export interface WorkerPlan {
  generation: number;
  rx: RxPlan[];
  tx: TxPlan[];
  rules: RulePlan[];
  /** Microseconds the loop spins on its rings before it sleeps (0: it sleeps at once). */
  busyPollUs?: number;
  /** Adaptive wake-ups: the longest nap between batches, µs (0: a wake-up per packet). */
  napUs?: number;
  /** How many workers run (spread rules share their outputs among them). */
  workerCount?: number;
  /** worker_cpus: worker i runs on workerCpus[i mod length]; empty: not pinned. */
  workerCpus?: number[];
  /** worker_priority: SCHED_FIFO priority of the worker threads; 0 or absent: the ordinary policy. */
  workerPriority?: number;
}
