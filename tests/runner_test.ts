/**
 * The test runner (tests/run_all.sh, what `make test` and CI run) says which
 * kernel capabilities the machine lacks and which tests it skipped for them,
 * so that a green run cannot hide a skipped feature; the skips take no time
 * and the run still exits 0.
 */
import assert from "node:assert/strict";
import { firstMissing, type KernelProbe, simulateLacking } from "../src/tools/kernel_probe.ts";
import { summarise, summaryLines } from "./helpers/run_summary.ts";
import { rootTest } from "./helpers/netns.ts";
import { probeKernel } from "../src/tools/kernel_probe.ts";

const ALL_PRESENT: KernelProbe = {
  ip_mroute: { ok: true },
  ip6_mroute: { ok: true },
  vlan: { ok: true },
  netem: { ok: true },
  xdp_sockets: { ok: true },
  io_uring: { ok: true },
  rt_sched: { ok: true },
};

Deno.test("simulateLacking() reports the named capabilities missing with the kernel option, and refuses an unknown name", () => {
  const p = simulateLacking(ALL_PRESENT, "ip_mroute, netem");
  assert.equal(p.ip_mroute.ok, false);
  assert.match(p.ip_mroute.reason!, /^kernel lacks CONFIG_IP_MROUTE/);
  assert.match(p.netem.reason!, /CONFIG_NET_SCH_NETEM/);
  assert.equal(p.vlan.ok, true);
  assert.deepEqual(firstMissing(["vlan", "netem", "ip_mroute"], p)?.capability, "netem");
  assert.equal(firstMissing(["vlan"], p), null);
  assert.throws(
    () => simulateLacking(ALL_PRESENT, "warp_drive"),
    /unknown capability "warp_drive"/,
  );
});

Deno.test("summarise() counts the tests skipped per missing capability from deno test's output", () => {
  const probe = simulateLacking(ALL_PRESENT, "ip_mroute,vlan");
  const log = [
    "frr: a [skipped, needs ip_mroute: kernel lacks CONFIG_IP_MROUTE (MRT_INIT: ENOPROTOOPT)] ... \x1b[33mignored\x1b[0m (0ms)",
    "frr: b [skipped, needs ip_mroute: kernel lacks CONFIG_IP_MROUTE (MRT_INIT: ENOPROTOOPT)] ... ignored (0ms)",
    "other test ... ok (3ms)",
    "root-only test [skipped: root writes through directory permissions] ... ignored (0ms)",
  ].join("\n");
  const s = summarise(probe, log);
  assert.deepEqual(s.missing.get("ip_mroute")?.tests, ["frr: a", "frr: b"]);
  assert.deepEqual(s.missing.get("vlan")?.tests, []);
  assert.equal(s.otherIgnored.length, 1);
  const lines = summaryLines(s);
  assert.match(lines[0], /^kernel capabilities missing: ip_mroute \(.*\): 2 tests skipped; vlan/);
  assert.match(lines[0], /2 tests skipped for missing capabilities$/);
});

Deno.test({
  name:
    "tests/run_all.sh on a kernel without CONFIG_IP_MROUTE (simulated): the test that needs it is ignored at once, the summary names the capability and the test, the run exits 0",
  sanitizeResources: false,
  fn: async () => {
    const out = await new Deno.Command("bash", {
      args: ["tests/run_all.sh", "tests/fixtures/runner/capability_fixture.ts"],
      env: { MCR_KERNEL_LACKS: "ip_mroute", NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, text);
    const lines = text.trim().split("\n");
    assert.equal(lines.at(-1), "1 passed, 0 failed", text);
    const skipped = lines.find((l) => l.startsWith("fixture: needs multicast routing"));
    assert.match(
      skipped ?? "",
      /\[skipped, needs ip_mroute: kernel lacks CONFIG_IP_MROUTE.*\] \.\.\. ignored \(0ms\)/,
      text,
    );
    const summary = lines.find((l) => l.startsWith("kernel capabilities"));
    if (Deno.uid() === 0) {
      assert.match(
        summary ?? "",
        /^kernel capabilities missing: ip_mroute \(kernel lacks CONFIG_IP_MROUTE[^;]*\): 1 test skipped/,
        text,
      );
      assert.ok(lines.includes("  skipped (ip_mroute): fixture: needs multicast routing"), text);
    }
  },
});

rootTest(
  "root: the kernel probe answers for every capability, each present or with a reason that names its kernel option",
  () => {
    const probe = probeKernel();
    for (const [cap, r] of Object.entries(probe)) {
      assert.equal(typeof r.ok, "boolean", cap);
      if (!r.ok) assert.match(r.reason!, /CONFIG_[A-Z0-9_]+|io_uring/, `${cap}: ${r.reason}`);
    }
    // The relay itself cannot run without io_uring: a machine that runs this test has it.
    assert.equal(probe.io_uring.ok, true);
  },
);
