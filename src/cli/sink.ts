/** `mcr sink`: receives a group and accounts loss, duplicates, reordering, corruption. */
import { z } from "zod";
import { interfaceInfo } from "../../ffi/iface.ts";
import { InterfaceName, MulticastGroup, UnicastAddress } from "../config/schema.ts";
import { ip } from "../net/address.ts";
import { receive } from "../tools/sink.ts";
import { parseCommandArgs } from "./args.ts";

export const USAGE =
  `usage: mcr sink (--group G | --address A) --port P [--interface IF] [--expect N]
                [--run-id N] [--idle-timeout-ms MS] [--max-seconds S] [--json]

Joins group G (IPv4 or IPv6) on IF, or receives on this host's unicast
address A, until idle for MS after traffic started (or S seconds); prints a
summary and, with --json, one JSON line.`;

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const SinkArgs = z.object({
  group: MulticastGroup.optional(),
  address: UnicastAddress.optional(),
  port: int(1, 65535),
  interface: InterfaceName.optional(),
  expect: int(1, 1e12).optional(),
  "run-id": int(0, 0xffffffff).optional(),
  "idle-timeout-ms": int(10, 3_600_000).default(2000),
  "max-seconds": int(1, 86_400).default(3600),
  json: z.boolean().optional(),
  help: z.boolean().optional(),
});

export function sinkCommand(argv: string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(USAGE);
    return Promise.resolve(0);
  }
  const parsed = parseCommandArgs("mcr sink", argv, {
    group: { type: "string" },
    address: { type: "string" },
    port: { type: "string" },
    interface: { type: "string" },
    expect: { type: "string" },
    "run-id": { type: "string" },
    "idle-timeout-ms": { type: "string" },
    "max-seconds": { type: "string" },
    json: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  }, SinkArgs);
  if (!parsed.ok) {
    console.error(`${parsed.message}\n${USAGE}`);
    return Promise.resolve(1);
  }
  const a = parsed.values;
  if ((a.group === undefined) === (a.address === undefined)) {
    console.error(`mcr sink: give exactly one of --group or --address\n${USAGE}`);
    return Promise.resolve(1);
  }
  let ifindex = 0;
  if (a.interface) {
    const info = interfaceInfo(a.interface);
    if (!info) {
      console.error(`mcr sink: --interface: interface "${a.interface}" not found`);
      return Promise.resolve(1);
    }
    ifindex = info.ifindex;
  }
  const r = receive({
    address: ip((a.group ?? a.address)!),
    port: a.port,
    ifindex,
    expect: a.expect,
    runId: a["run-id"] ?? -1,
    idleTimeoutMs: a["idle-timeout-ms"],
    maxSeconds: a["max-seconds"],
  });
  console.error(
    `received ${r.received} (unique ${r.unique}), lost ${r.lost}, duplicates ${r.duplicates}, ` +
      `reordered ${r.reordered}, corrupted ${r.corrupted}, foreign ${r.foreign}, kernel drops ${r.kernel_drops}, ` +
      `TTL ${r.last_ttl ?? "-"}, ${r.rate_pps} pps`,
  );
  if (a.json) console.log(JSON.stringify(r));
  return Promise.resolve(0);
}
