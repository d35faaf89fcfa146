/**
 * An interface's own kernel counters are read by the native library. (They
 * were read from /sys/class/net/NAME/statistics in TypeScript, which Deno
 * refuses without --allow-all: in the relay every counter read 0, silently.)
 * Run with mcr's own permissions, not -A, to keep that honest.
 */
import assert from "node:assert/strict";
import { interfaceCounters, sysctlNumber } from "../../ffi/iface.ts";
import { defaultMembershipLimit } from "../../src/supervisor/memberships.ts";

Deno.test("interfaceCounters reads lo's counters, which move when lo carries a packet; an unknown name is null", async () => {
  const before = interfaceCounters("lo");
  assert.ok(before, "lo's counters");
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const c = await Deno.connect({ hostname: "127.0.0.1", port: l.addr.port });
  const accepted = await l.accept();
  c.close();
  accepted.close();
  l.close();
  const after = interfaceCounters("lo")!;
  assert.ok(after.rx_packets > before.rx_packets, `${before.rx_packets} -> ${after.rx_packets}`);
  assert.ok(after.tx_packets > before.tx_packets);
  assert.equal(interfaceCounters("no-such-if0"), null);
  assert.equal(interfaceCounters("../../etc"), null, "never a path outside the statistics");
});

Deno.test("sysctlNumber reads /proc/sys natively with mcr's permissions; keys that leave /proc/sys are refused", () => {
  const direct = new TextDecoder().decode(
    new Deno.Command("sysctl", { args: ["-n", "net.ipv4.igmp_max_memberships"] }).outputSync()
      .stdout,
  ).trim();
  assert.equal(sysctlNumber("net.ipv4.igmp_max_memberships"), Number(direct));
  assert.equal(defaultMembershipLimit(4), Number(direct), "the membership limit is the sysctl");
  assert.equal(sysctlNumber("net.ipv4.no_such_key"), null);
  assert.equal(sysctlNumber("../../etc/passwd"), null);
  assert.equal(sysctlNumber("net/../../etc"), null);
});
