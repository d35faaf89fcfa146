/**
 * The watchdog tells a starved worker (runnable, given no CPU) from a stuck
 * one (spinning with CPU, or blocked asleep), from what the scheduler says
 * of its thread.
 */
import assert from "node:assert/strict";
import { StarvationJudge, STARVED_MAX_MS } from "../../src/supervisor/starvation.ts";
import { threadId, threadState } from "../../ffi/process.ts";

const LIMIT = 500;

function judgeWith(states: { state: string; cpuMs: number }[]) {
  let i = 0;
  return new StarvationJudge(() => states[Math.min(i++, states.length - 1)]);
}

Deno.test("runnable with almost no CPU since it was first late: starved (not restarted); told once", () => {
  const j = judgeWith([{ state: "R", cpuMs: 1000 }, { state: "R", cpuMs: 1010 }]);
  const hb = 10_000;
  assert.equal(j.judge(0, 42, hb, hb + 200, LIMIT), "fine");
  assert.equal(j.judge(0, 42, hb, hb + 300, LIMIT), "fine", "first look");
  assert.equal(j.judge(0, 42, hb, hb + 700, LIMIT), "starved", "10 ms of CPU in 400 ms, runnable");
  assert.equal(j.firstTelling(0), true);
  assert.equal(j.firstTelling(0), false);
});

Deno.test("a thread that had CPU and did not beat is spinning: stuck; one asleep is blocked: stuck", () => {
  const spin = judgeWith([{ state: "R", cpuMs: 1000 }, { state: "R", cpuMs: 1300 }]);
  assert.equal(spin.judge(0, 42, 0, 300, LIMIT), "fine");
  assert.equal(spin.judge(0, 42, 0, 700, LIMIT), "stuck");
  const asleep = judgeWith([{ state: "S", cpuMs: 1000 }, { state: "S", cpuMs: 1000 }]);
  assert.equal(asleep.judge(0, 42, 0, 300, LIMIT), "fine");
  assert.equal(asleep.judge(0, 42, 0, 700, LIMIT), "stuck");
  const disk = judgeWith([{ state: "D", cpuMs: 5 }, { state: "D", cpuMs: 5 }]);
  disk.judge(0, 42, 0, 300, LIMIT);
  assert.equal(disk.judge(0, 42, 0, 700, LIMIT), "stuck");
});

Deno.test("starved for longer than STARVED_MAX_MS: restarted anyway; unknown thread or gone: stuck as before", () => {
  const j = judgeWith([{ state: "R", cpuMs: 0 }]);
  j.judge(0, 42, 0, 300, LIMIT);
  assert.equal(j.judge(0, 42, 0, 5000, LIMIT), "starved");
  assert.equal(j.judge(0, 42, 0, STARVED_MAX_MS + 1, LIMIT), "stuck");
  const none = new StarvationJudge(() => null);
  assert.equal(none.judge(0, 42, 0, 700, LIMIT), "stuck");
  const noTid = judgeWith([{ state: "R", cpuMs: 0 }]);
  assert.equal(noTid.judge(0, 0, 0, 400, LIMIT), "fine");
  assert.equal(noTid.judge(0, 0, 0, 700, LIMIT), "stuck");
});

Deno.test("a new heartbeat starts a new episode: the first look is taken again", () => {
  const reads: number[] = [];
  const j = new StarvationJudge((tid) => {
    reads.push(tid);
    return { state: "R", cpuMs: 0 };
  });
  j.judge(0, 42, 0, 300, LIMIT);
  assert.equal(reads.length, 1);
  j.judge(0, 42, 1000, 1300, LIMIT); // it beat at 1000
  assert.equal(reads.length, 2, "a fresh first look for the new episode");
});

Deno.test("threadState reads this thread's state and CPU time natively (with mcr's permissions)", () => {
  const tid = threadId();
  assert.ok(tid > 0);
  const before = threadState(tid)!;
  assert.equal(before.state, "R", "a thread that asks is running");
  const end = performance.now() + 120;
  while (performance.now() < end) { /* spin: CPU time rises */ }
  const after = threadState(tid)!;
  assert.ok(after.cpuMs - before.cpuMs >= 50, `${before.cpuMs} -> ${after.cpuMs}`);
  assert.equal(threadState(1 << 30), null, "no such thread");
});
