/** `mcr gen`: paced, numbered UDP multicast generator. */
import { z } from "zod";
import { interfaceInfo } from "../../ffi/iface.ts";
import { InterfaceName, IpAddressText, MulticastGroup, UnicastAddress } from "../config/schema.ts";
import { fromWords, ip, type IpAddress } from "../net/address.ts";
import { generate } from "../tools/gen.ts";
import { MIN_PAYLOAD } from "../tools/payload.ts";
import { parseCommandArgs } from "./args.ts";

export const USAGE = `usage: mcr gen (--group G | --address A) --port P [--count N] [--rate PPS]
               [--size BYTES] [--interface IF] [--source-ip S] [--ttl T] [--run-id N] [--json]

Sends N numbered datagrams to group G (IPv4 or IPv6) or unicast address A,
port P, at PPS packets per second (payload format in src/tools/payload.ts),
and prints what it sent and the rate it achieved. --interface picks the
multicast egress (IPv4: its address is the source unless --source-ip).`;

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const GenArgs = z.object({
  group: MulticastGroup.optional(),
  address: UnicastAddress.optional(),
  port: int(1, 65535),
  count: int(1, 1e12).default(1000),
  rate: int(1, 10_000_000).default(10_000),
  size: int(MIN_PAYLOAD, 8972).default(1024),
  interface: InterfaceName.optional(),
  "source-ip": IpAddressText.optional(),
  ttl: int(1, 255).default(8),
  "run-id": int(0, 0xffffffff).optional(),
  json: z.boolean().optional(),
  help: z.boolean().optional(),
});

export async function genCommand(argv: string[]): Promise<number> {
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
  }, GenArgs);
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(USAGE);
    return 0;
  }
  if (!parsed.ok) {
    console.error(`${parsed.message}\n${USAGE}`);
    return 1;
  }
  const a = parsed.values;
  if ((a.group === undefined) === (a.address === undefined)) {
    console.error(`mcr gen: give exactly one of --group or --address\n${USAGE}`);
    return 1;
  }
  const destination = ip((a.group ?? a.address)!);
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
  const runId = a["run-id"] ?? (crypto.getRandomValues(new Uint32Array(1))[0] >>> 0);
  const result = await generate({
    destination,
    port: a.port,
    count: a.count,
    rate: a.rate,
    size: a.size,
    source,
    ifindex,
    ttl: a.ttl,
    runId,
  });
  const mbit = (result.rate_pps * (result.size + 42) * 8) / 1e6;
  console.error(
    `sent ${result.sent} packets in ${result.elapsed_s} s: ${result.rate_pps} pps (target ${a.rate}), ` +
      `${mbit.toFixed(1)} Mbit/s, run id ${runId}`,
  );
  if (a.json) console.log(JSON.stringify(result));
  return result.send_errors > 0 && result.sent < a.count ? 2 : 0;
}
