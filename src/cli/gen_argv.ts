/**
 * The argument list of `mcr gen` for a numbered stream, built in one place for
 * everything that starts a generator as a child process (the demo, the
 * benchmarks, the tests' helpers). Only the options given are passed: the
 * generator's own defaults apply to the rest.
 */
export interface GenArgv {
  /** A group (IPv4 or IPv6)... */
  group?: string;
  /** ...or a unicast destination. */
  address?: string;
  port: number;
  count: number;
  rate: number;
  size?: number;
  iface?: string;
  sourceIp?: string;
  ttl?: number;
  runId?: number;
}

/** `gen` and its options, ending in --json (the child's summary is read as JSON). */
export function genArgv(o: GenArgv): string[] {
  if ((o.group === undefined) === (o.address === undefined)) {
    throw new Error("genArgv: give exactly one of group or address");
  }
  const opt = (name: string, v: string | number | undefined) =>
    v === undefined ? [] : [name, String(v)];
  return [
    "gen",
    ...opt("--group", o.group),
    ...opt("--address", o.address),
    ...opt("--port", o.port),
    ...opt("--count", o.count),
    ...opt("--rate", o.rate),
    ...opt("--size", o.size),
    ...opt("--interface", o.iface),
    ...opt("--source-ip", o.sourceIp),
    ...opt("--ttl", o.ttl),
    ...opt("--run-id", o.runId),
    "--json",
  ];
}
