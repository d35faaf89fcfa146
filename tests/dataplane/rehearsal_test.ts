/**
 * The rehearsal (src/dataplane/rehearsal.ts): a worker forwards synthetic
 * packets through the loop's own stages over stand-in rings before its first
 * plan, so the per-packet code is compiled before the first real packet.
 */
import assert from "node:assert/strict";
import { DATE_CLOCK, type Kicker } from "../../src/dataplane/loop_state.ts";
import { rehearse } from "../../src/dataplane/rehearsal.ts";

/** A worker's kicker that records what a rehearsal asks of it. */
function recording(): Kicker & { sleeps: number; fds: number[]; submits: number } {
  const k = {
    sleeps: 0,
    fds: [] as number[],
    submits: 0,
    wait: () => (k.sleeps++, 0),
    queueKick: (fd: number) => (k.fds.push(fd), -9),
    submit: () => (k.submits++, 0),
    nap: () => (k.sleeps++, 0),
  };
  return k;
}

/** What the worker's own kicker may see from a rehearsal: kicks without a descriptor, never a sleep. */
function assertHarmless(k: ReturnType<typeof recording>): void {
  assert.equal(k.sleeps, 0, "the worker's kicker never waits or naps for a rehearsal");
  assert.ok(k.fds.every((fd) => fd < 0), `kicks carry no descriptor: ${k.fds.slice(0, 5)}`);
}

Deno.test("a rehearsal forwards its packets through the stages: matched, rewritten, sent", () => {
  const kicker = recording();
  let periodic = 0;
  const r = rehearse(DATE_CLOCK, { kicker, sender: null, periodic: () => periodic++ }, 6000);
  // Its streams, taken in turn: 3 of 6 match the rule with two outputs, 1 of 6 the sourced
  // rule (one output), 2 of 6 no rule.
  assert.equal(r.packets, 6000);
  assert.equal(r.matched, 4000);
  assert.equal(r.copies, 3000 * 2 + 1000);
  assert.ok(r.ms >= 0 && r.ms < 60_000, `took ${r.ms} ms`);
  assertHarmless(kicker);
  assert.ok(kicker.fds.length > 0, "the compiled code has met the worker's kicker too");
  assert.equal(periodic, 0, "the worker's periodic statistics are never called");
});

Deno.test("a rehearsal of any length, even none, leaves nothing behind and can repeat", () => {
  const kicker = recording();
  const none = rehearse(DATE_CLOCK, { kicker, sender: null, periodic: () => {} }, 0);
  assert.deepEqual([none.packets, none.matched, none.copies], [0, 0, 0]);
  // Lengths that are not a multiple of a batch or of the stream mix, twice in one thread.
  for (const n of [1, 257, 1001]) {
    const r = rehearse(DATE_CLOCK, { kicker, sender: null, periodic: () => {} }, n);
    assert.equal(r.packets, n);
    assert.ok(r.copies >= r.matched && r.matched <= n);
  }
  assertHarmless(kicker);
});

Deno.test("after a rehearsal V8 has optimized the per-packet functions; without one it has not", async () => {
  // V8's own view (%GetOptimizationStatus, in a child with natives syntax allowed). In V8 15
  // bit 4 is Maglev and bit 5 TurboFan; either means the function runs optimized code.
  const run = async (arg: string) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read",
        "--allow-env",
        "--v8-flags=--allow-natives-syntax",
        new URL("../fixtures/rehearsal/compiled.ts", import.meta.url).pathname,
        arg,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    return JSON.parse(new TextDecoder().decode(out.stdout)) as {
      status: Record<string, number>;
    };
  };
  const optimized = (status: number) => (status & ((1 << 4) | (1 << 5))) !== 0;
  const cold = await run("cold");
  const warm = await run("warm");
  for (const [name, status] of Object.entries(cold.status)) {
    assert.ok(!optimized(status), `${name} is not optimized before any packet (${status})`);
  }
  assert.deepEqual(Object.keys(warm.status).sort(), [
    "emit",
    "forwardFrame",
    "processFrames",
    "rewriteInto",
  ]);
  for (const [name, status] of Object.entries(warm.status)) {
    assert.ok(optimized(status), `${name} is optimized after a rehearsal (${status})`);
  }
});
