/** `mcr rules list|add|remove`: manage the rules of a running relay through its API. */
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { parseConfigText } from "../config/load.ts";
import {
  inputDestination,
  InterfaceName,
  MulticastGroup,
  outputDestination,
  OutputSchema,
  type Rule,
  ruleInputs,
  UnicastAddress,
} from "../config/schema.ts";
import { parseCommandArgs, usageFailure } from "./args.ts";
import {
  ApiUnreachable,
  ApiUrl,
  callApi,
  type ClientOptions,
  clientOptions,
  expectStatus,
  fail,
  localProblem,
  RefusedError,
} from "./client.ts";

export const USAGE = `usage: mcr rules list [--json]
       mcr rules add --name N --in IFACE (--group G | --address A) --port P [--source S]
                     --out OUTPUT [--out ...]
         OUTPUT is IFACE:GROUP:PORT[:TTL] (an IPv6 group in brackets: eth1:[ff3e::1]:5000)
         or key=value pairs: egress=routed,address=2001:db8::9,port=5000[,interface=..][,ttl=..]
         (keys: egress interface group address port ttl dscp source_ip)
       mcr rules add --file RULE.yaml
       mcr rules remove NAME [NAME ...]
       mcr rules import FILE [--replace]
         FILE: YAML or JSON, a list of rules or a mapping with "rules:" (a config file);
         one change, all or nothing (POST /api/v1/rules:batch); --replace: rules of
         the file that exist already are replaced, otherwise they are refused
common: [--api URL] [--token-file FILE] [--json]
  --json: the API's answer as one JSON line (add/remove: rules added, removed,
          changed; an error: {"error": ...}), for scripts`;

/** Splits IFACE:GROUP:PORT[:TTL], where GROUP may be an IPv6 address in brackets. */
function colonFields(spec: string): string[] {
  const m = /^([^:]+):\[([^\]]+)\]:(.*)$/.exec(spec);
  if (m) return [m[1], m[2], ...m[3].split(":")];
  return spec.split(":");
}

const NUMERIC_KEYS = new Set(["port", "ttl", "dscp"]);

/**
 * Parses one --out: IFACE:GROUP:PORT[:TTL] or egress=..,interface=..,... pairs,
 * with the schema's own checks (errors name the field).
 */
export function parseOutput(spec: string): Rule["outputs"][number] {
  let out: Record<string, unknown>;
  if (spec.includes("=")) {
    out = {};
    for (const pair of spec.split(",")) {
      const eq = pair.indexOf("=");
      if (eq <= 0) throw new Error(`--out: "${pair}" must be key=value`);
      const key = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      out[key] = NUMERIC_KEYS.has(key) ? Number(value) : value;
    }
  } else {
    const [iface, group, port, ttl, ...rest] = colonFields(spec);
    if (!iface || !group || !port || rest.length > 0) {
      throw new Error(`--out: "${spec}" must be IFACE:GROUP:PORT[:TTL] or key=value pairs`);
    }
    out = { interface: iface, group, port: Number(port), ...(ttl ? { ttl: Number(ttl) } : {}) };
  }
  const r = OutputSchema.safeParse(out);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new Error(`--out: "${spec}": ${i.path.map(String).join(".") || "output"}: ${i.message}`);
  }
  return r.data;
}

const AddArgs = z.object({
  name: z.string().optional(),
  in: InterfaceName.optional(),
  group: MulticastGroup.optional(),
  address: UnicastAddress.optional(),
  port: z.coerce.number().int().min(1).max(65535).optional(),
  source: z.string().optional(),
  out: z.array(z.string()).optional(),
  file: z.string().optional(),
  replace: z.boolean().optional(),
  api: ApiUrl.optional(),
  "token-file": z.string().optional(),
  json: z.boolean().optional(),
});

type RulesArgs = z.infer<typeof AddArgs>;
type Subcommand = (client: ClientOptions, a: RulesArgs, positionals: string[]) => Promise<number>;

async function listRules(client: ClientOptions, a: RulesArgs): Promise<number> {
  const res = await callApi(client, "GET", "/api/v1/rules");
  expectStatus(res, 200);
  const rules = res.body as Rule[];
  if (a.json) {
    console.log(JSON.stringify(rules));
    return 0;
  }
  for (const r of rules) {
    const outs = r.outputs.map((o) =>
      `${o.egress === "routed" ? "routed " : ""}${o.interface ?? "*"} ${
        outputDestination(o)
      } port ${o.port}`
    ).join(", ");
    const ins = ruleInputs(r).map((i) =>
      `${i.interface} ${inputDestination(i)} port ${i.port}${i.source ? ` from ${i.source}` : ""}`
    ).join(" + ");
    console.log(
      `${r.name}: ${r.merge ? `merge ${ins}` : ins} -> ${outs}${
        r.enabled === false ? " (disabled)" : ""
      }`,
    );
  }
  if (rules.length === 0) console.log("(no rules)");
  return 0;
}

/** The rule `mcr rules add` describes: from --file, or from the flags. */
function ruleOfArgs(a: RulesArgs): unknown {
  if (a.file) {
    const text = Deno.readTextFileSync(a.file);
    return parseConfigText(
      `rules:\n${text.split("\n").map((l, i) => (i === 0 ? `  - ${l}` : `    ${l}`)).join("\n")}\n`,
      a.file,
    ).rules[0];
  }
  for (const k of ["name", "in", "port"] as const) {
    if (a[k] === undefined) throw new Error(`--${k}: required (or give --file)`);
  }
  if ((a.group === undefined) === (a.address === undefined)) {
    throw new Error("--group / --address: give exactly one (or give --file)");
  }
  if (!a.out || a.out.length === 0) throw new Error("--out: at least one output is required");
  return {
    name: a.name,
    input: {
      interface: a.in,
      ...(a.group ? { group: a.group } : { address: a.address }),
      port: a.port,
      ...(a.source ? { source: a.source } : {}),
    },
    outputs: a.out.map(parseOutput),
  };
}

async function addRule(client: ClientOptions, a: RulesArgs): Promise<number> {
  const rule = ruleOfArgs(a);
  const res = await callApi(client, "POST", "/api/v1/rules", rule);
  expectStatus(res, 201);
  console.log(a.json ? JSON.stringify(res.body) : `added rule "${(rule as Rule).name}"`);
  return 0;
}

/** `mcr rules import FILE [--replace]`: one POST /api/v1/rules:batch. */
async function importRules(client: ClientOptions, a: RulesArgs, pos: string[]): Promise<number> {
  const file = pos[0] ?? a.file;
  if (!file) throw new Error("FILE: which file of rules to import");
  const add = rulesOfFile(file);
  let remove: string[] = [];
  if (a.replace) {
    const res = await callApi(client, "GET", "/api/v1/rules");
    expectStatus(res, 200);
    const present = new Set((res.body as Rule[]).map((r) => r.name));
    remove = add.flatMap((r) => {
      const name = (r as { name?: unknown } | null)?.name;
      return typeof name === "string" && present.has(name) ? [name] : [];
    });
  }
  const res = await callApi(client, "POST", "/api/v1/rules:batch", { add, remove });
  expectStatus(res, 200);
  const r = res.body as { added: string[]; changed: string[] };
  console.log(
    a.json
      ? JSON.stringify(res.body)
      : `imported ${add.length} rules from ${file}: ${r.added.length} added, ${r.changed.length} changed`,
  );
  return 0;
}

/** `mcr rules remove NAME [NAME ...]`: several names are one change (rules:batch). */
async function removeRules(client: ClientOptions, a: RulesArgs, pos: string[]): Promise<number> {
  if (pos.length > 1) {
    const res = await callApi(client, "POST", "/api/v1/rules:batch", { remove: pos });
    expectStatus(res, 200);
    console.log(a.json ? JSON.stringify(res.body) : `removed ${pos.length} rules`);
    return 0;
  }
  const name = pos[0] ?? a.name;
  if (!name) throw new Error("NAME: which rule to remove");
  const res = await callApi(client, "DELETE", `/api/v1/rules/${encodeURIComponent(name)}`);
  expectStatus(res, 200);
  console.log(a.json ? JSON.stringify(res.body) : `removed rule "${name}"`);
  return 0;
}

const SUBCOMMANDS: Record<string, Subcommand> = {
  list: listRules,
  add: addRule,
  import: importRules,
  remove: removeRules,
};

/**
 * The rules of an import file, as written (the relay validates them, naming
 * the first bad one): a YAML or JSON list, or a mapping whose `rules` is one.
 */
export function rulesOfFile(path: string): unknown[] {
  const doc = parseYaml(Deno.readTextFileSync(path), { maxAliasCount: 100 });
  const list = Array.isArray(doc) ? doc : (doc as { rules?: unknown } | null)?.rules;
  if (!Array.isArray(list)) throw new Error(`${path}: expected a list of rules or "rules:"`);
  if (list.length === 0) throw new Error(`${path}: no rules`);
  return list;
}

export async function rulesCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === "--help" || sub === "-h") {
    console.log(USAGE);
    return 0;
  }
  if (!sub) return (console.error(`mcr rules: name a subcommand\n${USAGE}`), 1);
  const parsed = parseCommandArgs(
    `mcr rules ${sub}`,
    rest,
    {
      name: { type: "string" },
      in: { type: "string" },
      group: { type: "string" },
      address: { type: "string" },
      port: { type: "string" },
      source: { type: "string" },
      out: { type: "string", multiple: true },
      file: { type: "string" },
      replace: { type: "boolean" },
      api: { type: "string" },
      "token-file": { type: "string" },
      json: { type: "boolean" },
    },
    AddArgs,
    true,
  );
  if (!parsed.ok) {
    return usageFailure(parsed, USAGE);
  }
  const a = parsed.values;
  const client = clientOptions(sub === "import" ? { ...a, "timeout-ms": 120_000 } : a);
  const run = Object.hasOwn(SUBCOMMANDS, sub) ? SUBCOMMANDS[sub] : undefined;
  if (run === undefined) {
    console.error(`mcr rules: unknown subcommand "${sub}"\n${USAGE}`);
    return 1;
  }
  try {
    return await run(client, a, parsed.positionals);
  } catch (err) {
    const p = err instanceof RefusedError ? err.problem : localProblem(
      err instanceof ApiUnreachable ? "unreachable" : "failed",
      (err as Error).message,
    );
    return fail(`mcr rules ${sub}`, a.json, p);
  }
}
