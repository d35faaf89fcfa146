/**
 * The test signal's faults: their kinds (FAULT_KINDS, also the text of
 * `mcr gen --help`), parsing a `--fault` SPEC, the index sets they are kept
 * in (IndexSet), and FaultPlan, which checks a signal's faults against it and
 * groups them by what they change. Where a fault lands in the TS is the TS
 * writer's business (signal_ts.ts, through FaultPlan.land); the RTP restarts
 * and jumps are signal_rtp.ts's. Imports only signal_params.ts.
 *
 * Indices are datagram indices k, 0-based, before faults (drop, dup and
 * reorder change what goes on the wire; the others change what is in a
 * datagram). A fault that needs something a datagram does not carry (crc:
 * a PAT or PMT; scramble: an audio packet; cc, legal-dup, discontinuity: a
 * video packet) lands on the next datagram that carries it; `injected()`
 * lists where every fault actually went. See FAULT_KINDS for each fault.
 * Choices the fault list leaves open:
 *   - drop and dup may not name the same datagram; reorder swaps pairs
 *     (k, k+1) that must not chain (k and k+1 both listed is refused).
 *   - legal-dup: the duplicate goes right after the original and the packets
 *     after it move down one slot; the datagram's last null packet gives way
 *     (there is always one), so the datagram keeps 7 packets and every other
 *     packet keeps its content. The copy is byte for byte except a PCR, which
 *     is re-stamped for the copy's own position (ISO/IEC 13818-1 wants a valid
 *     PCR in a duplicate; a stale one would be a PCR accuracy error).
 *   - discontinuity: the first video packet of k gets an adaptation field with
 *     discontinuity_indicator and a PCR of the new time base (60 s ahead;
 *     every PTS after it too), and its CC jumps by 8.
 *   - ssrc (a sender restart) draws the new SSRC, sequence start and timestamp
 *     start from `seed`, deterministically.
 */
import { SIGNAL } from "./signal_params.ts";

/** An inclusive range of datagram indices. */
export type IndexRange = readonly [number, number];

/** The faults that take a LIST of indices and ranges ("3,5,10..20"). */
export type ListFaultKind =
  | "drop"
  | "dup"
  | "reorder"
  | "sync"
  | "cc"
  | "tei"
  | "crc"
  | "no-pat"
  | "no-pmt"
  | "pcr-gap"
  | "scramble"
  | "discontinuity"
  | "legal-dup";

export type Fault =
  | { kind: ListFaultKind; at: IndexRange[] }
  | { kind: "stop-pid"; pid: number; at: IndexRange[] }
  | { kind: "ssrc"; at: number }
  | { kind: "seq-jump"; at: number; by: number };

export type FaultKind = Fault["kind"];

/** Every fault, its argument and what it does (also the text of `mcr gen --help`). */
export const FAULT_KINDS: Record<FaultKind, string> = {
  drop: "drop=LIST       those datagrams are not sent",
  dup: "dup=LIST        those datagrams are sent twice, back to back",
  reorder: "reorder=LIST    datagram k is sent after datagram k+1",
  sync: "sync=LIST       sync byte 0x46 in the first TS packet of datagram k",
  cc: "cc=LIST         the video CC skips one value at the first video packet of k",
  tei: "tei=LIST        transport_error_indicator on the first TS packet of k",
  crc: "crc=LIST        a wrong CRC in the first PAT/PMT at or after datagram k",
  "no-pat": "no-pat=A..B     no PAT in those datagrams (null packets instead)",
  "no-pmt": "no-pmt=A..B     no PMT in those datagrams (null packets instead)",
  "stop-pid": "stop-pid=PID@A..B  packets of PID become null packets in those datagrams",
  "pcr-gap": "pcr-gap=A..B    no PCR written in those datagrams",
  scramble: "scramble=LIST   scrambling control 10 on the first audio packet at or after k",
  ssrc: "ssrc=K          from datagram K on a new SSRC and sequence start (restart)",
  "seq-jump": "seq-jump=K:N    from datagram K on, RTP sequence numbers jump by N",
  discontinuity: "discontinuity=LIST  legal video discontinuity: indicator, CC and PCR jump",
  "legal-dup": "legal-dup=LIST  the first video packet of k sent twice (legal TS duplicate)",
};

/** Faults that need TS content, and faults that need RTP. */
const TS_FAULTS: ReadonlySet<FaultKind> = new Set<FaultKind>([
  "sync",
  "cc",
  "tei",
  "crc",
  "no-pat",
  "no-pmt",
  "stop-pid",
  "pcr-gap",
  "scramble",
  "discontinuity",
  "legal-dup",
]);
const RTP_FAULTS: ReadonlySet<FaultKind> = new Set<FaultKind>(["ssrc", "seq-jump"]);

function parseIndex(text: string, what: string): number {
  if (!/^\d{1,15}$/.test(text)) throw new Error(`${what}: "${text}" is not a datagram index`);
  return Number(text);
}

/** "3,5,10..20" -> [[3,3],[5,5],[10,20]]. */
export function parseIndexList(text: string, what: string): IndexRange[] {
  if (text === "") throw new Error(`${what}: no datagram indices`);
  return text.split(",").map((item): IndexRange => {
    const dots = item.indexOf("..");
    if (dots < 0) {
      const k = parseIndex(item, what);
      return [k, k];
    }
    const a = parseIndex(item.slice(0, dots), what);
    const b = parseIndex(item.slice(dots + 2), what);
    if (b < a) throw new Error(`${what}: range ${item} is backwards`);
    return [a, b];
  });
}

/** Parses one `--fault` SPEC ("drop=3,5", "stop-pid=0x101@10..20", "seq-jump=100:-5"). */
export function parseFault(spec: string): Fault {
  const eq = spec.indexOf("=");
  const kind = (eq < 0 ? spec : spec.slice(0, eq)) as FaultKind;
  if (!Object.hasOwn(FAULT_KINDS, kind)) {
    throw new Error(`unknown fault "${kind}" (one of ${Object.keys(FAULT_KINDS).join(", ")})`);
  }
  if (eq < 0) throw new Error(`${kind}: needs a value (${FAULT_KINDS[kind].split(" ")[0]})`);
  const value = spec.slice(eq + 1);
  switch (kind) {
    case "stop-pid": {
      const at = value.indexOf("@");
      if (at < 0) throw new Error(`stop-pid: expected PID@A..B, got "${value}"`);
      const pidText = value.slice(0, at);
      const pid = /^0x[0-9a-f]{1,4}$/i.test(pidText)
        ? parseInt(pidText.slice(2), 16)
        : /^\d{1,4}$/.test(pidText)
        ? Number(pidText)
        : NaN;
      if (!(pid >= 0 && pid <= 0x1fff)) {
        throw new Error(`stop-pid: "${pidText}" is not a PID (0..8191 or 0x0..0x1fff)`);
      }
      return { kind, pid, at: parseIndexList(value.slice(at + 1), kind) };
    }
    case "ssrc":
      return { kind, at: parseIndex(value, kind) };
    case "seq-jump": {
      const m = /^(\d{1,15}):([+-]?\d{1,5})$/.exec(value);
      if (!m) throw new Error(`seq-jump: expected K:N, got "${value}"`);
      const by = Number(m[2]);
      if (by === 0 || Math.abs(by) > 65535) {
        throw new Error(`seq-jump: N must be a non-zero integer in -65535..65535`);
      }
      return { kind, at: Number(m[1]), by };
    }
    default:
      return { kind, at: parseIndexList(value, kind) };
  }
}

/**
 * A set of datagram indices kept as sorted, merged ranges: membership and
 * "how many below k" by binary search, without allocating.
 */
export class IndexSet {
  readonly #start: number[] = [];
  readonly #end: number[] = [];
  /** Members in the ranges before range i. */
  readonly #before: number[] = [];

  constructor(ranges: readonly IndexRange[]) {
    const sorted = [...ranges].sort((x, y) => x[0] - y[0]);
    for (const [a, b] of sorted) {
      const last = this.#end.length - 1;
      if (last >= 0 && a <= this.#end[last] + 1) {
        this.#end[last] = Math.max(this.#end[last], b);
      } else {
        this.#start.push(a);
        this.#end.push(b);
      }
    }
    let n = 0;
    for (let i = 0; i < this.#start.length; i++) {
      this.#before.push(n);
      n += this.#end[i] - this.#start[i] + 1;
    }
  }

  get size(): number {
    const last = this.#start.length - 1;
    return last < 0 ? 0 : this.#before[last] + this.#end[last] - this.#start[last] + 1;
  }

  get rangeCount(): number {
    return this.#start.length;
  }

  rangeStart(i: number): number {
    return this.#start[i];
  }

  rangeEnd(i: number): number {
    return this.#end[i];
  }

  /** Index of the last range starting at or before k, or -1. */
  #find(k: number): number {
    let lo = 0;
    let hi = this.#start.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.#start[mid] <= k) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }

  has(k: number): boolean {
    const i = this.#find(k);
    return i >= 0 && k <= this.#end[i];
  }

  /** How many members are < k. */
  countBelow(k: number): number {
    const i = this.#find(k - 1);
    if (i < 0) return 0;
    return this.#before[i] + Math.min(k - 1, this.#end[i]) - this.#start[i] + 1;
  }

  /** The members, in order (allocates: for reports and tests). */
  toArray(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.#start.length; i++) {
      for (let k = this.#start[i]; k <= this.#end[i]; k++) out.push(k);
    }
    return out;
  }
}

/** Where the faults went (datagram indices, before faults), for `mcr gen --json` and tests. */
export interface SignalInjected {
  drop?: number[];
  dup?: number[];
  /** k: datagram k went out after datagram k+1. */
  reorder?: number[];
  sync?: number[];
  cc?: number[];
  tei?: number[];
  /** The datagrams whose PAT or PMT carries the wrong CRC. */
  crc?: number[];
  no_pat?: number[];
  no_pmt?: number[];
  stop_pid?: { pid: number; datagrams: number[] }[];
  pcr_gap?: number[];
  /** The datagrams whose audio packet is marked scrambled. */
  scramble?: number[];
  ssrc?: { from: number; ssrc: number; seq: number; timestamp: number }[];
  seq_jump?: { from: number; by: number }[];
  discontinuity?: number[];
  legal_dup?: number[];
}

/** A sender restart (fault ssrc) or a sequence jump (fault seq-jump), from datagram `at`. */
export interface RtpFaults {
  /** Restarts, sorted, without repeats. */
  restarts: readonly number[];
  /** Sequence jumps in datagram order (a stable sort: equal `at` keep the list's order). */
  jumps: readonly { at: number; by: number }[];
}

/**
 * A signal's faults, checked against it (count, TS or RTP) and grouped: the
 * send-order faults, the TS faults that stay where they are listed, the
 * datagrams without each PID, and the RTP restarts and jumps. The faults that
 * land on the next carrier are moved by `land`, with what the TS writer knows.
 */
export class FaultPlan {
  readonly drop: IndexSet;
  readonly dup: IndexSet;
  readonly reorder: IndexSet;
  readonly sync: IndexSet;
  readonly tei: IndexSet;
  readonly pcrGap: IndexSet;
  readonly noPat: IndexSet;
  readonly noPmt: IndexSet;
  /** Datagrams without each PID of the program (no-pat / no-pmt / stop-pid together). */
  readonly offPat: IndexSet;
  readonly offPmt: IndexSet;
  readonly offCat: IndexSet;
  readonly offVideo: IndexSet;
  readonly offAudio: IndexSet;
  /** stop-pid, by PID. */
  readonly stopPid: { pid: number; set: IndexSet }[] = [];
  readonly rtp: RtpFaults;
  readonly #count: number;
  readonly #lists = new Map<FaultKind, IndexRange[]>();

  /** Throws on a fault the signal cannot carry, beyond `count`, or in conflict. */
  constructor(faults: readonly Fault[], count: number, ts: boolean, rtp: boolean) {
    this.#count = count;
    const stops = new Map<number, IndexRange[]>();
    const restarts: number[] = [];
    const jumps: { at: number; by: number }[] = [];
    for (const f of faults) {
      checkFault(f, count, ts, rtp);
      if (f.kind === "ssrc") restarts.push(f.at);
      else if (f.kind === "seq-jump") jumps.push({ at: f.at, by: f.by });
      else if (f.kind === "stop-pid") stops.set(f.pid, [...(stops.get(f.pid) ?? []), ...f.at]);
      else this.#lists.set(f.kind, [...(this.#lists.get(f.kind) ?? []), ...f.at]);
    }
    this.drop = this.#set("drop");
    this.dup = this.#set("dup");
    this.reorder = this.#set("reorder");
    this.#checkSendOrder();
    this.sync = this.#set("sync");
    this.tei = this.#set("tei");
    this.pcrGap = this.#set("pcr-gap");
    this.noPat = this.#set("no-pat");
    this.noPmt = this.#set("no-pmt");
    for (const [pid, ranges] of stops) this.stopPid.push({ pid, set: new IndexSet(ranges) });
    this.stopPid.sort((x, y) => x.pid - y.pid);
    const off = (pid: number, more: IndexRange[]) =>
      new IndexSet([...more, ...(stops.get(pid) ?? [])]);
    this.offPat = off(SIGNAL.PID_PAT, this.#lists.get("no-pat") ?? []);
    this.offPmt = off(SIGNAL.PID_PMT, this.#lists.get("no-pmt") ?? []);
    this.offCat = off(SIGNAL.PID_CAT, []);
    this.offVideo = off(SIGNAL.PID_VIDEO, []);
    this.offAudio = off(SIGNAL.PID_AUDIO, []);
    jumps.sort((x, y) => x.at - y.at);
    this.rtp = { restarts: [...new Set(restarts)].sort((x, y) => x - y), jumps };
  }

  /** The datagrams a list fault names, as listed. */
  #set(kind: ListFaultKind): IndexSet {
    return new IndexSet(this.#lists.get(kind) ?? []);
  }

  #checkSendOrder(): void {
    for (const k of this.drop.toArray()) {
      if (this.dup.has(k)) throw new Error(`fault drop and dup both list datagram ${k}`);
    }
    for (const k of this.reorder.toArray()) {
      if (k + 1 >= this.#count) {
        throw new Error(`fault reorder=${k}: there is no datagram ${k + 1} to swap with`);
      }
      if (this.reorder.has(k + 1)) {
        throw new Error(`fault reorder: ${k} and ${k + 1} overlap (swaps must not chain)`);
      }
    }
  }

  /**
   * A point fault moved to where it lands: each listed k to the first datagram
   * at or after k that `carries` what it changes (none if no datagram does).
   */
  land(kind: ListFaultKind, carries: (k: number) => boolean): IndexSet {
    const at: IndexRange[] = [];
    for (const k of this.#set(kind).toArray()) {
      let j = k;
      while (j < this.#count && !carries(j)) j++;
      if (j < this.#count) at.push([j, j]);
    }
    return new IndexSet(at);
  }
}

/** A fault the signal cannot carry (TS or RTP), or beyond its `count` datagrams. */
function checkFault(f: Fault, count: number, ts: boolean, rtp: boolean): void {
  if (TS_FAULTS.has(f.kind) && !ts) {
    throw new Error(`fault ${f.kind} needs a TS signal (ts or rtp+ts)`);
  }
  if (RTP_FAULTS.has(f.kind) && !rtp) {
    throw new Error(`fault ${f.kind} needs an RTP signal (rtp or rtp+ts)`);
  }
  const ranges = f.kind === "ssrc" || f.kind === "seq-jump" ? [[f.at, f.at] as const] : f.at;
  for (const [, b] of ranges) {
    if (b >= count) {
      throw new Error(
        `fault ${f.kind}: datagram ${b} is beyond the ${count} datagrams (indices start at 0)`,
      );
    }
  }
}
