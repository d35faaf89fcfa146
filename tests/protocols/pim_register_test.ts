/** Null-Registers for relayed streams with a remote RP (src/protocols/pim_register.ts), time passed in by hand. */
import assert from "node:assert/strict";
import { RegisterSender } from "../../src/protocols/pim_register.ts";
import { buildNullRegister, buildRegisterStop, parsePim } from "../../src/protocols/pim.ts";
import { internetChecksum, parseIpv4 } from "../../src/protocols/ip_packet.ts";

const SG = { source: "10.0.0.1", group: "239.9.9.1", rp: "10.0.1.254" };

function sends(r: RegisterSender, from: number, to: number, step = 100): number[] {
  const at: number[] = [];
  for (let now = from; now <= to; now += step) {
    r.tick(now);
    if (r.outbox.splice(0).length > 0) at.push(now);
  }
  return at;
}

Deno.test("in Join state a Null-Register goes to the RP at once and every probe time", () => {
  const r = new RegisterSender(60_000, 5_000);
  r.update([SG], 0);
  assert.deepEqual(sends(r, 0, 12_000), [0, 5000, 10000]);
  assert.deepEqual(r.states(), [{ ...SG, state: "join", sent: 3, stops: 0 }]);
});

Deno.test("a Register-Stop from the RP suppresses registering, with one probe before the suppression ends; answered, it stays suppressed", () => {
  const r = new RegisterSender(60_000, 5_000);
  r.update([SG], 0);
  r.tick(0);
  r.outbox.length = 0;
  assert.equal(
    r.receiveStop("10.9.9.9", SG.group, SG.source, 100),
    false,
    "only the RP may stop it",
  );
  assert.equal(r.receiveStop(SG.rp, SG.group, SG.source, 100), true);
  assert.deepEqual(sends(r, 100, 55_000), [], "quiet while suppressed");
  assert.deepEqual(sends(r, 55_100, 55_200), [55_100], "the probe");
  r.receiveStop(SG.rp, SG.group, SG.source, 55_300);
  assert.deepEqual(sends(r, 55_300, 110_000), [], "suppressed again");
  assert.equal(r.states()[0].state, "prune");
});

Deno.test("an unanswered probe: back to Join state at the end of the suppression time", () => {
  const r = new RegisterSender(60_000, 5_000);
  r.update([SG], 0);
  r.receiveStop(SG.rp, SG.group, SG.source, 0);
  assert.deepEqual(sends(r, 0, 70_000, 500), [55_000, 60_000, 65_000, 70_000]);
  assert.equal(r.states()[0].state, "join");
});

Deno.test("a stream no longer relayed is no longer registered; a new RP restarts its state", () => {
  const r = new RegisterSender();
  r.update([SG], 0);
  r.receiveStop(SG.rp, SG.group, SG.source, 0);
  r.update([{ ...SG, rp: "10.0.2.254" }], 10);
  assert.equal(r.states()[0].state, "join");
  r.update([], 20);
  assert.deepEqual(r.states(), []);
});

Deno.test("a Null-Register carries N and a dummy IPv4 header from S to G; its checksum covers 8 bytes; a Register-Stop parses back", () => {
  const m = buildNullRegister("10.0.0.1", "239.9.9.1");
  assert.equal(m[0], 0x21);
  assert.equal(m[4] & 0x40, 0x40);
  assert.equal(internetChecksum(m.subarray(0, 8)), 0);
  const inner = parseIpv4(m.subarray(8));
  assert.ok(
    inner.ok && inner.value.source === "10.0.0.1" && inner.value.destination === "239.9.9.1",
  );
  assert.ok(parsePim(m).ok, "it passes the Register checksum rule");
  const stop = parsePim(buildRegisterStop("239.9.9.1", "10.0.0.1"));
  assert.ok(stop.ok && "registerStop" in stop.value);
  assert.deepEqual(stop.value.registerStop, { group: "239.9.9.1", source: "10.0.0.1" });
});
