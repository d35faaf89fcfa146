/**
 * The per-packet pipeline of the forwarding loop: parse -> match -> the
 * rule's checks (fragments, TTL, loop guard) -> merge (a merged pair's legs:
 * only the copy its merge picks goes on, src/merge/) -> inspect (the rules
 * that ask: src/streams/) -> per output, rewrite into a TX frame or batch
 * for a routed socket (tx.ts). A UDP GSO frame is split
 * into its datagrams first (gso.ts), each going through the same pipeline.
 * Returns counts or a negative drop reason; never allocates or throws.
 */
import * as L from "../../ffi/layout.ts";
import { ttlOffset } from "../net/headers.ts";
import * as H from "../net/headers.ts";
import { OUT, OUTPUT_SLOTS, RULE, RULE_SLOTS, W } from "../stats/registry.ts";
import {
  GSO_MAX_SEGMENTS,
  gsoSegmentSize,
  layOutSegment,
  segmentCount,
  segmentFrameLength,
  VNET_HDR_LEN,
} from "./gso.ts";
import { countDrop, type LoopState } from "./loop_state.ts";
import { returned, signature } from "./loop_guard.ts";
import { parseFrame } from "./parse.ts";
import * as P from "./parse.ts";
import { finishPartialChecksum, sourceDelta, sourceDelta6 } from "./rewrite.ts";
import {
  EGRESS_ROUTED,
  type InputPort,
  matchFragment,
  matchRule,
  type Rule,
  TTL_DECREMENT,
} from "./rule_table.ts";
import { emit, emitRouted } from "./tx.ts";
import { inspectDatagram } from "../streams/inspector.ts";
import { admitDatagram } from "../merge/merge_stage.ts";

// Other modules' constants as module-local aliases: V8 folds these into the per-packet code,
// not imported bindings (bench/loop_bench.ts measured ~25 % more per packet with imports).
const F_FAMILY = P.F_FAMILY;
const F_FRAG = P.F_FRAG;
const F_GROUP = P.F_GROUP;
const F_IP = P.F_IP;
const F_L4_LEN = P.F_L4_LEN;
const F_PORT = P.F_PORT;
const F_PROTO = P.F_PROTO;
const F_SRC = P.F_SRC;
const F_UDP = P.F_UDP;
const F_UDP_LEN = P.F_UDP_LEN;
const F_VLAN = P.F_VLAN;
const FRAG_FIRST = P.FRAG_FIRST;
const FRAG_LATER = P.FRAG_LATER;
const FRAG_NONE = P.FRAG_NONE;
const FRAME = P.FRAME;
const R_BAD_HEADER = P.R_BAD_HEADER;
const R_FRAGMENT = P.R_FRAGMENT;
const R_LOOP = P.R_LOOP;
const R_NO_MATCH = P.R_NO_MATCH;
const R_NOT_UDP = P.R_NOT_UDP;
const R_TTL_EXPIRED = P.R_TTL_EXPIRED;

const TP_STATUS_CSUMNOTREADY = L.TP_STATUS_CSUMNOTREADY;

const IP6_SRC = H.IP6_SRC;
const IPPROTO_UDP = H.IPPROTO_UDP;
const UDP_CHECK = H.UDP_CHECK;
const UDP_HLEN = H.UDP_HLEN;

const OUT_TTL_EXPIRED = OUT.ttl_expired;
const RULE_PACKETS = RULE.packets;
const RULE_BYTES = RULE.bytes;
const RULE_DROPPED = RULE.dropped;
const W_RX_GSO = W.rx_gso_frames;

/**
 * The frame's GSO segment size, or 0 when it is one datagram or the input
 * reads no segmentation header (`dataStart`: where the ring entry's data
 * may begin; the header sits just before the MAC header).
 */
export function gsoSize(s: LoopState, input: InputPort, mac: number, dataStart: number): number {
  return input.vnet && mac >= dataStart + VNET_HDR_LEN ? gsoSegmentSize(s.view, mac) : 0;
}

/**
 * One received frame: its datagram, or each datagram of a GSO frame of
 * `size`-byte segments. Counts drops; returns how many datagrams were
 * matched, and sets s.gsoDatagrams to how many the frame stood for.
 */
export function forwardFrame(
  s: LoopState,
  input: InputPort,
  mac: number,
  len: number,
  status: number,
  vid: number,
  size: number,
): number {
  s.gsoDatagrams = 1;
  if (size !== 0) return forwardSegments(s, input, mac, len, status, vid, size);
  const copies = forwardPacket(s, input, mac, len, status, vid);
  if (copies >= 0) return 1;
  countDrop(s.workerCounters, -copies);
  return 0;
}

/**
 * A UDP GSO frame (gso.ts): each datagram it carries goes through
 * forwardPacket() on its own, laid out in place. A frame that is not one
 * whole UDP datagram (a fragment, another protocol, unparsable) is handled
 * as it is.
 */
function forwardSegments(
  s: LoopState,
  input: InputPort,
  mac: number,
  len: number,
  status: number,
  vid: number,
  size: number,
): number {
  const wc = s.workerCounters;
  if (parseFrame(s.view, mac, len, vid) < 0 || FRAME[F_UDP] < 0 || FRAME[F_FRAG] !== FRAG_NONE) {
    const copies = forwardPacket(s, input, mac, len, status, vid);
    if (copies >= 0) return 1;
    countDrop(wc, -copies);
    return 0;
  }
  const f = s.gso;
  f.mac = mac;
  f.ip = FRAME[F_IP];
  f.udp = FRAME[F_UDP];
  f.family = FRAME[F_FAMILY];
  f.payload = FRAME[F_L4_LEN] - UDP_HLEN;
  const n = segmentCount(f, size);
  if (n > GSO_MAX_SEGMENTS) {
    countDrop(wc, R_BAD_HEADER);
    return 0;
  }
  s.gsoDatagrams = n;
  wc[W_RX_GSO] += 1;
  let matched = 0;
  for (let k = 0; k < n; k++) {
    const start = layOutSegment(s.view, s.bytes, f, size, k);
    // Its UDP checksum field holds the pseudo-header sum: finished like any partial checksum.
    const copies = forwardPacket(
      s,
      input,
      start,
      segmentFrameLength(f, size, k),
      status | TP_STATUS_CSUMNOTREADY,
      vid,
    );
    if (copies < 0) countDrop(wc, -copies);
    else matched++;
  }
  return matched;
}

/**
 * parse -> match -> one rewrite per output. Returns the number of copies
 * queued (>= 0) or -reason when the packet is dropped as a whole.
 */
export function forwardPacket(
  s: LoopState,
  input: InputPort,
  mac: number,
  len: number,
  status: number,
  ringVid = 0,
): number {
  const view = s.view;
  const parsed = parseFrame(view, mac, len, ringVid);
  if (parsed < 0) return parsed;

  const family = FRAME[F_FAMILY];
  const group = FRAME[F_GROUP];
  const src = FRAME[F_SRC];
  const ip = FRAME[F_IP];
  const frag = FRAME[F_FRAG];
  const vlan = FRAME[F_VLAN];
  const proto = FRAME[F_PROTO];
  const rule = frag === FRAG_LATER
    ? matchFragment(input.fragmentRules, family, group, src, view, ip, vlan, proto)
    : matchRule(input.rules, family, group, FRAME[F_PORT], src, view, ip, vlan, proto);
  // No rule: a protocol no rule relays is not_udp (as before any rule could take one).
  if (rule === null) {
    return proto !== IPPROTO_UDP ? -R_NOT_UDP : frag === FRAG_LATER ? -R_FRAGMENT : -R_NO_MATCH;
  }
  if (frag === FRAG_FIRST && !rule.allowFragments) return ruleDrop(s, rule, R_FRAGMENT);
  // Like a router: a packet at its last hop goes nowhere that decrements the TTL;
  // where a fixed TTL is written, the loop guard stops a packet that comes back.
  const inTtl = view.getUint8(ip + ttlOffset(family));
  if (inTtl <= 1 && !rule.fixedTtl) return ruleDrop(s, rule, R_TTL_EXPIRED);
  if (rule.guard !== null && FRAME[F_UDP] >= 0) {
    const sig = signature(view, family, ip, FRAME[F_UDP], FRAME[F_UDP_LEN]);
    if (returned(rule.guard, sig, input.ownSources.has(src), s.batchMs[0])) {
      return ruleDrop(s, rule, R_LOOP);
    }
  }

  if (rule.counted) {
    const rc = s.ruleCounters;
    rc[rule.slot * RULE_SLOTS + RULE_PACKETS] += 1;
    rc[rule.slot * RULE_SLOTS + RULE_BYTES] += len;
  }

  const udp = FRAME[F_UDP];
  // Stage "merge": of a merged pair's copies only the one its merge picks goes on
  // (resequencing: it waits in the pair's hold area and goes on when its window closes).
  const merge = rule.merge;
  if (merge !== null) {
    if (udp < 0 || frag !== FRAG_NONE) return 0;
    if (!admitDatagram(merge, view, udp + UDP_HLEN, FRAME[F_UDP_LEN] - UDP_HLEN, s.arrivalUs)) {
      return 0;
    }
    if (merge.pair.hold !== null) {
      merge.pair.holdFrame(s.bytes, merge.leg, mac, len, status, ringVid, s.arrivalUs);
      return 0;
    }
  }
  return deliver(s, rule, status, inTtl);
}

/** A frame of `rule`'s stream not relayed for `reason`: counted on the rule too (mcr explain tells it). */
function ruleDrop(s: LoopState, rule: Rule, reason: number): number {
  if (rule.counted) s.ruleCounters[rule.slot * RULE_SLOTS + RULE_DROPPED] += 1;
  return -reason;
}

/**
 * A held frame of a resequencing merge goes on (merge_stage.ts Release):
 * parsed again where it waits, then inspect, rewrite and TX like any.
 */
export function forwardHeld(
  s: LoopState,
  rule: Rule,
  offset: number,
  len: number,
  status: number,
  vid: number,
  arrivalUs: number,
): number {
  if (parseFrame(s.view, offset, len, vid) < 0) return 0;
  s.arrivalUs = arrivalUs;
  return deliver(s, rule, status, s.view.getUint8(FRAME[F_IP] + ttlOffset(FRAME[F_FAMILY])));
}

/**
 * The stages after the decision to send (the parsed frame in FRAME):
 * inspect, then per output a rewrite into a TX frame or a routed batch.
 * Returns the copies queued.
 */
function deliver(s: LoopState, rule: Rule, status: number, inTtl: number): number {
  const view = s.view;
  const family = FRAME[F_FAMILY];
  const src = FRAME[F_SRC];
  const ip = FRAME[F_IP];
  const frag = FRAME[F_FRAG];
  const udp = FRAME[F_UDP];
  let udpChecksum = 0;
  let srcDelta = 0;
  // Stage "inspect": the stream's health, read (never changed) before the rewrite.
  const inspector = rule.inspector;
  if (inspector !== null && udp >= 0 && frag === FRAG_NONE) {
    inspectDatagram(inspector, view, udp + UDP_HLEN, FRAME[F_UDP_LEN] - UDP_HLEN, s.arrivalUs);
  }
  if (udp >= 0) {
    // Only a whole datagram can be finished: a first fragment's UDP length
    // reaches past this frame (and the kernel finishes checksums before it
    // fragments, so it never flags one).
    udpChecksum = (status & TP_STATUS_CSUMNOTREADY) !== 0 && frag === FRAG_NONE
      ? finishPartialChecksum(view, udp, FRAME[F_UDP_LEN])
      : view.getUint16(udp + UDP_CHECK);
    srcDelta = family === 4 ? sourceDelta(src) : sourceDelta6(view, ip + IP6_SRC);
  }

  const outputs = rule.outputs;
  let copies = 0;
  for (let i = 0; i < outputs.length; i++) {
    const out = outputs[i];
    if (inTtl <= 1 && out.ttl === TTL_DECREMENT) {
      s.outputCounters[out.slot * OUTPUT_SLOTS + OUT_TTL_EXPIRED] += 1;
      continue;
    }
    copies += out.egress === EGRESS_ROUTED
      ? emitRouted(s, out)
      : emit(s, out, udpChecksum, srcDelta);
  }
  return copies;
}
