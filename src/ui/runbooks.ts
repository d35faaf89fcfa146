/**
 * Runbooks: one per shipped alert (examples/monitoring/mcr-alerts.yml),
 * declared once here. The relay serves them at /runbooks (each alert's
 * runbook_url points there, on the instance that fired it), and
 * docs/runbooks.md is written from them:
 *
 *   deno run --allow-write --allow-run src/ui/runbooks.ts
 *
 * A test checks that every alert has a runbook, every runbook an alert, and
 * that docs/runbooks.md is what this writes.
 */

export interface Runbook {
  /** The alert's name, also the anchor (#McrDown). */
  alert: string;
  /** What firing means, one paragraph. */
  meaning: string;
  /** What to look at, in order. */
  check: string[];
  /** What usually fixes it. */
  fix: string[];
}

export const RUNBOOKS: readonly Runbook[] = [
  {
    alert: "McrDown",
    meaning:
      "Prometheus cannot scrape the relay's /metrics: the process is not running, its API listens elsewhere, or the host is unreachable. Nothing is known about forwarding while this fires (this page may be unreachable too: it is also docs/runbooks.md).",
    check: [
      "`systemctl status mcr` and `journalctl -u mcr -n 50`: did it exit, and why (the last JSON log lines)?",
      "`mcr health` on the host: does the API answer locally?",
      "If the unit restarts in a loop: `mcr config check /etc/mcr/mcr.yaml` names a bad field.",
    ],
    fix: [
      "Start it (`systemctl start mcr`) once the configuration checks clean.",
      "A relay stopped by its systemd watchdog had a wedged data plane: keep the journal for a report.",
    ],
  },
  {
    alert: "McrWorkerNotRunning",
    meaning:
      "A data-plane worker is not running. Its rings are read by no one: the streams it carries are lost until the supervisor replaces it (normally within about a second).",
    check: [
      "`mcr workers`: alive, restarts, heartbeat age of each worker.",
      "The log: `worker restarted` / `worker fenced` lines and their cause (threw, crashed, stuck).",
      "`GET /api/v1/resources`: `stuck_threads` lists threads fenced inside native code.",
    ],
    fix: [
      "A worker that cannot be replaced repeatedly: restart the relay (`systemctl restart mcr`) and report the log.",
    ],
  },
  {
    alert: "McrWorkerRestarting",
    meaning:
      "A worker was replaced after a fault in the last 10 minutes. Each restart can lose the packets in flight (typically under a second of one worker's share).",
    check: [
      "The log line `worker restarted`: its cause and `last_heartbeat_at_ms`.",
      "`mcr workers`: `last_restart` with the detection and recovery times.",
      "Host load: a starved host (CPU steal, another busy process on the workers' CPUs) delays heartbeats.",
    ],
    fix: [
      "Repeated `stuck` restarts on a busy host: give the workers their own CPUs (`worker_cpus`).",
      "`threw` or `crashed`: a bug; keep the log and report it.",
    ],
  },
  {
    alert: "McrRuleSilent",
    meaning:
      "An active rule has received nothing for more than 30 s: its stream stopped somewhere before the relay, or is not let in.",
    check: [
      "`mcr explain RULE`: walks the path (input link, group joined, querier heard, frames arriving, drops) and names the step that fails.",
      "The sender: is it sending, to the group and port the rule names?",
    ],
    fix: [
      "Follow the hint of the failing step (e.g. enable an IGMP querier on a snooping switch, raise the sender's TTL, set `gso: true`).",
    ],
  },
  {
    alert: "McrRuleWaiting",
    meaning:
      "A rule has waited over a minute for its interfaces: its input interface, or every output's interface, is absent or has no address.",
    check: [
      "`mcr explain RULE`: the interface steps name which one.",
      "`ip link show` / `ip addr show` for those interfaces (a VLAN or tunnel not created yet?).",
    ],
    fix: [
      "Create or bring up the interface: the rule starts by itself, no reload needed.",
      "Or correct the rule's interface name (`mcr rules add ... ` replaces it over the API).",
    ],
  },
  {
    alert: "McrPacketLoss",
    meaning:
      "The relay loses packets it should forward: the kernel dropped frames because an RX ring was full, a TX ring was full, or the kernel refused sends.",
    check: [
      "`mcr stats`: per output ERRORS and ring-full counts; which rule and output lose.",
      "The log: `output failing` lines name the output and the errno (e.g. ENETUNREACH).",
      "`mcr explain RULE` for that rule: the output step says why and when it last lost a copy.",
    ],
    fix: [
      "Kernel drops (RX ring full): more workers, larger `ring.block_count`, or a less loaded CPU.",
      "TX ring full: the output link is slower than the streams; check its speed or raise `tx_frames`.",
      "Send errors: a route or neighbour is missing for a routed output (the errno says which).",
    ],
  },
  {
    alert: "McrOutputFailing",
    meaning:
      "One output has lost copies for 2 minutes: refused by the kernel, larger than its MTU, TTL expired, or its ring or socket buffer full. Its receivers get nothing or a gapped stream.",
    check: [
      "`mcr explain RULE`: the output step names the cause, the errno by name and when it last sent a copy.",
      "`ip route get DESTINATION` for a routed output; `ip link show IF` for its MTU.",
    ],
    fix: [
      "ENETUNREACH / EHOSTUNREACH: add the route or fix the neighbour.",
      "too_big: raise the output link's MTU or lower the sender's datagram size.",
      "ttl_expired: set `ttl` on the output, or raise the sender's TTL.",
    ],
  },
  {
    alert: "McrDrops",
    meaning:
      "Frames arrive that the relay drops for a reason other than no rule wanting them (malformed, fragments, TTL 1, loops). Usually a sender or network problem, not a relay fault.",
    check: [
      "`mcr stats`: drops by reason; `mcr explain RULE` tells which are this rule's own (TTL, fragment, loop).",
      "A capture on the input link (`tcpdump -ni IF udp`) for malformed or fragmented frames.",
    ],
    fix: [
      "truncated with UDP GSO senders (containers, veth): `gso: true` on the input.",
      "loop: two relays or a router send the stream back; break the loop in the topology.",
    ],
  },
  {
    alert: "McrConfigChangeFailed",
    meaning:
      "The last configuration change (API, `mcr reload`, SIGHUP, an interface follow-up) was refused or failed. The previous configuration is still in force, untouched.",
    check: [
      "The event stream or the log: `configuration change failed` / `reload failed` with the reason.",
      "`mcr config check /etc/mcr/mcr.yaml`: one line per bad field.",
    ],
    fix: [
      "Correct the file and `mcr reload` (exit 0 once in force). The alert clears with the next successful change.",
    ],
  },
  {
    alert: "McrInterfaceDown",
    meaning:
      "An interface the configuration names is absent or down. Rules reading from it, or writing only to it, forward nothing.",
    check: [
      "`ip link show IF`: carrier, admin state; the switch port.",
      "`mcr explain RULE` for the rules on it.",
    ],
    fix: [
      "Bring the link up: the relay follows it without a reload.",
    ],
  },
  {
    alert: "McrStreamUnhealthy",
    meaning:
      "An inspected stream is critical for 1 minute: RTP loss, MPEG-TS priority 1 errors (sync loss, PAT/PMT missing, continuity errors), or no packets.",
    check: [
      "`mcr streams RULE`: the indicator behind the state and the counters (lost, cc_error, pat_error...).",
      "Whether the loss is before the relay (the input) or at its outputs (`mcr explain RULE`).",
    ],
    fix: [
      "Loss before the relay: the source or the network upstream; a redundant feed (`merge`) survives one path's loss.",
    ],
  },
  {
    alert: "McrMergeUnhealthy",
    meaning:
      "A merged pair (ST 2022-7 or A/B feeds) is critical: numbers were lost on every leg, or no leg carries the stream.",
    check: [
      "`mcr merges RULE`: each leg's state, losses and path differential.",
    ],
    fix: [
      "Restore the leg that is down; widen `window_ms` if the path differential exceeds it.",
    ],
  },
];

/** The runbooks as Markdown (docs/runbooks.md). */
export function runbooksMarkdown(): string {
  const parts = [
    "# Runbooks",
    "",
    "One section per alert in `examples/monitoring/mcr-alerts.yml`. The relay serves the same at",
    "`/runbooks` (each alert's `runbook_url`). Written from `src/ui/runbooks.ts`.",
  ];
  for (const r of RUNBOOKS) {
    parts.push("", `## ${r.alert}`, "", r.meaning, "", "Check:", "");
    parts.push(...r.check.map((c, i) => `${i + 1}. ${c}`));
    parts.push("", "Fix:", "", ...r.fix.map((f) => `- ${f}`));
  }
  return parts.join("\n") + "\n";
}

const esc = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(
    /`([^`]+)`/g,
    "<code>$1</code>",
  );

/** The runbooks as one self-contained HTML page (GET /runbooks). */
export function runbooksHtml(): string {
  const sections = RUNBOOKS.map((r) =>
    `<section id="${r.alert}"><h2><a href="#${r.alert}">${r.alert}</a></h2><p>${
      esc(r.meaning)
    }</p><h3>Check</h3><ol>${r.check.map((c) => `<li>${esc(c)}</li>`).join("")}</ol>` +
    `<h3>Fix</h3><ul>${r.fix.map((f) => `<li>${esc(f)}</li>`).join("")}</ul></section>`
  ).join("\n");
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>mcr runbooks</title>` +
    `<meta name="viewport" content="width=device-width, initial-scale=1"></head><body>` +
    `<h1>mcr runbooks</h1>\n${sections}\n</body></html>\n`;
}

/** The Markdown as `deno fmt` lays it out (the repository's formatter wraps at 100 columns). */
export async function formattedMarkdown(): Promise<string> {
  const p = new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--ext=md", "-"],
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const w = p.stdin.getWriter();
  await w.write(new TextEncoder().encode(runbooksMarkdown()));
  await w.close();
  return new TextDecoder().decode((await p.output()).stdout);
}

if (import.meta.main) {
  const out = new URL("../../docs/runbooks.md", import.meta.url);
  Deno.writeTextFileSync(out, await formattedMarkdown());
  console.log(`wrote ${out.pathname}`);
}
