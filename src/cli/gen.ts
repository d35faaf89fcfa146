/** `mcr gen`: paced, numbered UDP multicast generator. */
import { z } from "zod";
import { interfaceInfo } from "../../ffi/iface.ts";
import { InterfaceName, IpAddressText, MulticastGroup, UnicastAddress } from "../config/schema.ts";
import { fromWords, ip, type IpAddress } from "../net/address.ts";
import { generate, type GenResult } from "../tools/gen.ts";
import { generateLegs, type LegSpec } from "../tools/legs.ts";
import { parseIndexList } from "../tools/signal_faults.ts";
import { MIN_PAYLOAD } from "../tools/payload.ts";
import {
  FAULT_KINDS,
  parseFault,
  SIGNAL,
  SIGNAL_MODES,
  type SignalMode,
  TestSignal,
} from "../tools/signal.ts";
import { parseCommandArgs, usageFailure } from "./args.ts";

export const USAGE = `usage: mcr gen (--group G | --address A) --port P [--count N] [--rate PPS]
               [--size BYTES] [--interface IF] [--source-ip S] [--ttl T] [--run-id N] [--json]
               [--signal rtp|rtp+ts|ts [--bitrate BPS] [--ts-size 188|204] [--cat]
                 [--rtp-seq N] [--ssrc N] [--rtp-extension] [--fault SPEC]...]
       mcr gen --leg IF,DEST,PORT --leg IF,DEST,PORT... [--leg-drop L:LIST]... [--leg-loss L:PCT[:SEED]]...
               [--leg-delay L:MS]... [the options above but --group/--address/--port/--interface]

Sends N numbered datagrams to group G (IPv4 or IPv6) or unicast address A,
port P, at PPS packets per second (payload format in src/tools/payload.ts),
and prints what it sent and the rate it achieved. --interface picks the
multicast egress (IPv4: its address is the source unless --source-ip).

--signal sends a test signal instead (src/tools/signal.ts), N datagrams before
faults:
  rtp     RTP, payload type 96, --size bytes (header included) at --rate PPS
  rtp+ts  RTP, payload type 33, carrying 7 MPEG-TS packets per datagram
  ts      7 MPEG-TS packets per UDP datagram
The TS is one program at --bitrate BPS (${SIGNAL.DEFAULT_BITRATE}; counted in 188-byte packets):
PAT and PMT every 100 ms, PCR every 40 ms, H.264 on PID 0x101, AAC on 0x102,
null packets for the rest; --ts-size 204 adds 16 zero parity bytes per packet,
--cat a CAT every 500 ms. With ts and rtp+ts the rate is derived:
--bitrate / ${7 * 188 * 8} datagrams per second (--rate and --size do not apply).
RTP: --rtp-seq N first sequence number, --ssrc N (both random by default, the
timestamp start too), --rtp-extension adds an 8-byte header extension.
--fault SPEC (repeatable) injects a fault; K, A, B are datagram indices from 0
(before faults), LIST is indices and inclusive ranges like 3,5,10..20:
${Object.values(FAULT_KINDS).map((line) => `  ${line}`).join("\n")}
--json adds signal: { mode, datagrams, ts_packets_per_datagram, injected, ... },
injected listing the datagrams each fault went to.

--leg (2 to 4 times) sends the same stream on each leg, as a redundant feed
(SMPTE ST 2022-7, A/B market data): interface IF (its IPv4 address is the
source), destination DEST (group or address) and PORT. Leg L (from 0) does not
send the datagrams in --leg-drop L:LIST, drops each datagram with probability
PCT % with --leg-loss L:PCT[:SEED] (seed 1 unless given: the same list every
run), and sends everything --leg-delay L:MS later. --json adds legs: [{ sent,
dropped (index ranges), dropped_count }].`;

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const GenArgs = z.object({
  group: MulticastGroup.optional(),
  address: UnicastAddress.optional(),
  port: int(1, 65535).optional(),
  count: int(1, 1e12).default(1000),
  // (defaults applied below: --signal ts and rtp+ts refuse them)
  rate: int(1, 10_000_000).optional(),
  size: int(MIN_PAYLOAD, 8972).optional(),
  interface: InterfaceName.optional(),
  "source-ip": IpAddressText.optional(),
  ttl: int(1, 255).default(8),
  "run-id": int(0, 0xffffffff).optional(),
  json: z.boolean().optional(),
  help: z.boolean().optional(),
  signal: z.enum(SIGNAL_MODES as [SignalMode, ...SignalMode[]]).optional(),
  bitrate: int(SIGNAL.MIN_BITRATE, SIGNAL.MAX_BITRATE).optional(),
  "ts-size": z.enum(["188", "204"]).transform((v) => Number(v) as 188 | 204).optional(),
  cat: z.boolean().optional(),
  "rtp-seq": int(0, 0xffff).optional(),
  ssrc: int(0, 0xffffffff).optional(),
  "rtp-extension": z.boolean().optional(),
  leg: z.array(z.string()).optional(),
  "leg-drop": z.array(z.string()).optional(),
  "leg-loss": z.array(z.string()).optional(),
  "leg-delay": z.array(z.string()).optional(),
  fault: z.array(
    z.string().transform((spec, ctx) => {
      try {
        return parseFault(spec);
      } catch (err) {
        ctx.addIssue({ code: "custom", message: (err as Error).message });
        return z.NEVER;
      }
    }),
  ).optional(),
});

/** Options that only mean something with --signal. */
const SIGNAL_ONLY = [
  "bitrate",
  "ts-size",
  "cat",
  "rtp-seq",
  "ssrc",
  "rtp-extension",
  "fault",
] as const;

/** A random integer in [0, n) (n <= 2^32) for the signal's random starts. */
function random(n: number): number {
  return Math.floor((crypto.getRandomValues(new Uint32Array(1))[0] / 2 ** 32) * n);
}

/** The options of `mcr gen`, validated. */
type GenValues = z.infer<typeof GenArgs>;

export async function genCommand(argv: string[]): Promise<number> {
  const a = parseGenArgs(argv);
  if (typeof a === "number") return a;
  const signal = signalOf(a);
  if (typeof signal === "number") return signal;
  if (a.leg !== undefined) return await legsCommand(a, signal);
  const destination = ip((a.group ?? a.address)!);
  const egress = egressOf(a, destination);
  if (typeof egress === "number") return egress;
  const runId = a["run-id"] ?? (crypto.getRandomValues(new Uint32Array(1))[0] >>> 0);
  const result = await generate({
    destination,
    port: a.port!,
    count: a.count,
    rate: signal?.datagramRate ?? a.rate ?? 10_000,
    size: signal?.datagramSize ?? a.size ?? 1024,
    source: egress.source,
    ifindex: egress.ifindex,
    ttl: a.ttl,
    runId,
    signal,
  });
  return report(a, result, signal, runId);
}

/** Parses and checks the command line: the options, or the exit code (after --help or an error). */
export function parseGenArgs(argv: string[]): GenValues | number {
  const parsed = parseCommandArgs("mcr gen", argv, {
    group: { type: "string" },
    address: { type: "string" },
    port: { type: "string" },
    count: { type: "string" },
    rate: { type: "string" },
    size: { type: "string" },
    interface: { type: "string" },
    "source-ip": { type: "string" },
    ttl: { type: "string" },
    "run-id": { type: "string" },
    json: { type: "boolean" },
    help: { type: "boolean", short: "h" },
    signal: { type: "string" },
    bitrate: { type: "string" },
    "ts-size": { type: "string" },
    cat: { type: "boolean" },
    "rtp-seq": { type: "string" },
    ssrc: { type: "string" },
    "rtp-extension": { type: "boolean" },
    fault: { type: "string", multiple: true },
    leg: { type: "string", multiple: true },
    "leg-drop": { type: "string", multiple: true },
    "leg-loss": { type: "string", multiple: true },
    "leg-delay": { type: "string", multiple: true },
  }, GenArgs);
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(USAGE);
    return 0;
  }
  if (!parsed.ok) {
    return usageFailure(parsed, USAGE);
  }
  const a = parsed.values;
  if (a.leg !== undefined) {
    const stray = (["group", "address", "port", "interface", "source-ip"] as const).find((k) =>
      a[k] !== undefined
    );
    if (stray) {
      console.error(`mcr gen: --${stray}: each --leg gives its own\n${USAGE}`);
      return 1;
    }
    return a;
  }
  if ((a.group === undefined) === (a.address === undefined) || a.port === undefined) {
    console.error(`mcr gen: give exactly one of --group or --address, and --port\n${USAGE}`);
    return 1;
  }
  return a;
}

/**
 * The test signal of --signal (undefined without it), or the exit code if
 * its options do not fit.
 */
function signalOf(a: GenValues): TestSignal | undefined | number {
  let signal: TestSignal | undefined;
  if (a.signal === undefined) {
    const stray = SIGNAL_ONLY.find((name) => a[name] !== undefined);
    if (stray) {
      console.error(`mcr gen: --${stray}: needs --signal\n${USAGE}`);
      return 1;
    }
  } else {
    const tsSignal = a.signal !== "rtp";
    for (const name of ["rate", "size"] as const) {
      if (tsSignal && a[name] !== undefined) {
        console.error(
          `mcr gen: --${name}: does not apply to --signal ${a.signal} (the rate follows --bitrate, ` +
            `7 TS packets per datagram)`,
        );
        return 1;
      }
    }
    try {
      signal = new TestSignal({
        mode: a.signal,
        count: a.count,
        bitrate: a.bitrate,
        tsSize: a["ts-size"],
        cat: a.cat,
        rate: tsSignal ? undefined : a.rate ?? 10_000,
        size: tsSignal ? undefined : a.size ?? 1024,
        rtpSeq: a.signal === "ts" ? a["rtp-seq"] : a["rtp-seq"] ?? random(0x10000),
        rtpTimestamp: a.signal === "ts" ? undefined : random(2 ** 32),
        ssrc: a.signal === "ts" ? a.ssrc : a.ssrc ?? random(2 ** 32),
        rtpExtension: a["rtp-extension"],
        clockStart: tsSignal ? random(2 ** 33) * 300 : undefined,
        seed: random(2 ** 32),
        faults: a.fault,
      });
    } catch (err) {
      console.error(`mcr gen: --signal ${a.signal}: ${(err as Error).message}`);
      return 1;
    }
  }
  return signal;
}

/**
 * The source address and egress interface (0: the kernel's choice) from
 * --source-ip and --interface, or the exit code if they do not fit.
 */
function egressOf(
  a: GenValues,
  destination: IpAddress,
): { source: IpAddress | null; ifindex: number } | number {
  let source: IpAddress | null = a["source-ip"] ? ip(a["source-ip"]) : null;
  if (source && source.family !== destination.family) {
    console.error(
      `mcr gen: --source-ip: must be an IPv${destination.family} address like the destination`,
    );
    return 1;
  }
  let ifindex = 0;
  if (a.interface) {
    const info = interfaceInfo(a.interface);
    if (!info) {
      console.error(`mcr gen: --interface: interface "${a.interface}" not found`);
      return 1;
    }
    ifindex = info.ifindex;
    if (!source && destination.family === 4) {
      if (info.ipv4 === 0) {
        console.error(
          `mcr gen: --interface: "${a.interface}" has no IPv4 address; give --source-ip`,
        );
        return 1;
      }
      source = fromWords(4, [info.ipv4]);
    }
  }
  return { source, ifindex };
}

/** Prints what was sent (and the JSON with --json); the exit code: 2 if send errors lost some. */
function report(
  a: GenValues,
  result: GenResult,
  signal: TestSignal | undefined,
  runId: number,
): number {
  const mbit = (result.rate_pps * (result.size + 42) * 8) / 1e6;
  console.error(
    `sent ${result.sent} packets in ${result.elapsed_s} s: ${result.rate_pps} pps (target ${result.target_pps}), ` +
      `${mbit.toFixed(1)} Mbit/s, ` +
      (signal
        ? `signal ${signal.mode}: ${signal.count} datagrams of ${signal.datagramSize} bytes, ` +
          `${signal.sentCount} after faults`
        : `run id ${runId}`),
  );
  if (a.json) console.log(JSON.stringify(result));
  const expected = signal ? signal.sentCount : a.count;
  return result.send_errors > 0 && result.sent < expected ? 2 : 0;
}

/** `--leg`: the same stream on every leg, with each leg's drops, loss and delay. */
async function legsCommand(a: GenValues, signal: TestSignal | undefined): Promise<number> {
  let legs: LegSpec[];
  try {
    legs = parseLegs(a);
  } catch (err) {
    console.error(`mcr gen: ${(err as Error).message}\n${USAGE}`);
    return 1;
  }
  if (signal !== undefined && a.fault?.some((f) => f.kind === "reorder")) {
    console.error("mcr gen: --fault reorder: not with --leg (give each leg its own --leg-delay)");
    return 1;
  }
  const runId = a["run-id"] ?? (crypto.getRandomValues(new Uint32Array(1))[0] >>> 0);
  const result = await generateLegs({
    destination: legs[0].destination,
    port: legs[0].port,
    count: a.count,
    rate: signal?.datagramRate ?? a.rate ?? 10_000,
    size: signal?.datagramSize ?? a.size ?? 1024,
    source: null,
    ifindex: 0,
    ttl: a.ttl,
    runId,
    signal,
  }, legs);
  return report(a, result, signal, runId);
}

/** The legs of --leg with their --leg-drop, --leg-loss and --leg-delay. */
function parseLegs(a: GenValues): LegSpec[] {
  const specs = a.leg!;
  if (specs.length < 2 || specs.length > 4) throw new Error("--leg: give 2 to 4 legs");
  const legs: LegSpec[] = specs.map((spec) => {
    const [ifname, dest, port, extra] = spec.split(",");
    const p = Number(port);
    if (extra !== undefined || !ifname || !dest || !Number.isInteger(p) || p < 1 || p > 65535) {
      throw new Error(`--leg ${spec}: expected IF,DESTINATION,PORT`);
    }
    const destination = ip(dest);
    const info = interfaceInfo(ifname);
    if (!info) throw new Error(`--leg ${spec}: interface "${ifname}" not found`);
    const source = destination.family === 4 && info.ipv4 !== 0 ? fromWords(4, [info.ipv4]) : null;
    return { destination, port: p, source, ifindex: info.ifindex, drops: [], delayMs: 0 };
  });
  const perLeg = (
    option: string,
    values: string[] | undefined,
    apply: (l: LegSpec, v: string) => void,
  ) => {
    for (const v of values ?? []) {
      const colon = v.indexOf(":");
      const n = Number(v.slice(0, colon));
      if (colon < 0 || !Number.isInteger(n) || n < 0 || n >= legs.length) {
        throw new Error(`--${option} ${v}: expected LEG:VALUE with LEG 0..${legs.length - 1}`);
      }
      apply(legs[n], v.slice(colon + 1));
    }
  };
  perLeg("leg-drop", a["leg-drop"], (l, v) => l.drops.push(...parseIndexList(v, "--leg-drop")));
  perLeg("leg-loss", a["leg-loss"], (l, v) => {
    const [pct, seed] = v.split(":");
    const p = Number(pct.replace(/%$/, ""));
    if (!(p >= 0 && p <= 100) || (seed !== undefined && !/^\d+$/.test(seed))) {
      throw new Error(`--leg-loss ${v}: expected PERCENT[:SEED]`);
    }
    l.loss = { probability: p / 100, seed: seed === undefined ? 1 : Number(seed) };
  });
  perLeg("leg-delay", a["leg-delay"], (l, v) => {
    const ms = Number(v);
    if (!(ms >= 0 && ms <= 60_000)) throw new Error(`--leg-delay ${v}: 0 to 60000 ms`);
    l.delayMs = ms;
  });
  return legs;
}
