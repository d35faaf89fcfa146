/**
 * Standby workers: one per worker id, prepared once, taken by a restart
 * (only while its thread runs), told to stop with the relay or when its id
 * leaves the pool, terminated if it does not answer.
 */
import assert from "node:assert/strict";
import { MAX_STANDBYS, Standbys } from "../../src/supervisor/standby.ts";
import type { WorkerHandle } from "../../src/supervisor/worker_handle.ts";

/** A handle whose "thread" records messages and answers stop (or not). */
function fakeSpawn(answers = true) {
  const spawned: WorkerHandle[] = [];
  const posted: unknown[] = [];
  const terminated: number[] = [];
  const spawn = (h: WorkerHandle) => {
    let stoppedResolve!: () => void;
    h.stopped = new Promise((r) => stoppedResolve = r);
    h.alive = true;
    h.worker = {
      postMessage(m: { type: string }) {
        posted.push({ id: h.id, ...m });
        if (m.type === "stop" && answers) {
          h.alive = false;
          stoppedResolve();
        }
      },
      terminate() {
        terminated.push(h.id);
      },
    } as unknown as Worker;
    spawned.push(h);
  };
  return { spawn, spawned, posted, terminated };
}

Deno.test("one standby per id, counted as the next restart; taken once; a dead one is not taken", () => {
  const f = fakeSpawn();
  const s = new Standbys(f.spawn);
  s.prepare(0, 0);
  s.prepare(0, 0);
  s.prepare(1, 3);
  assert.equal(f.spawned.length, 2, "one per id");
  assert.equal(f.spawned[0].restarts, 1);
  assert.equal(f.spawned[1].restarts, 4);
  assert.ok(f.spawned.every((h) => h.standby));
  assert.equal(s.take(0), f.spawned[0]);
  assert.equal(s.take(0), null, "taken once");
  f.spawned[1].alive = false; // its thread died
  assert.equal(s.take(1), null);
  assert.equal(s.size, 0);
});

Deno.test("stop tells the standbys of the ids leaving (or all) to stop and waits for them", async () => {
  const f = fakeSpawn();
  const s = new Standbys(f.spawn);
  for (const id of [0, 1, 2]) s.prepare(id, 0);
  await s.stop([2]);
  assert.deepEqual(f.posted, [{ id: 2, type: "stop" }]);
  assert.equal(s.size, 2);
  await s.stop();
  assert.equal(s.size, 0);
  assert.deepEqual(f.posted.map((m) => (m as { id: number }).id).toSorted(), [0, 1, 2]);
});

Deno.test("a standby that does not answer stop is terminated after the wait (it never entered a native wait)", async () => {
  const f = fakeSpawn(false);
  const s = new Standbys(f.spawn);
  s.prepare(0, 0);
  const t0 = performance.now();
  await s.stop();
  assert.ok(performance.now() - t0 >= 1900);
  assert.deepEqual(f.terminated, [0]);
  assert.equal(f.spawned[0].alive, false);
});

Deno.test("standby_workers: false prepares none (a restart starts a thread, as before)", () => {
  const f = fakeSpawn();
  const s = new Standbys(f.spawn, false);
  s.prepare(0, 0);
  assert.equal(f.spawned.length, 0);
  assert.equal(s.take(0), null);
});

Deno.test("only the first MAX_STANDBYS worker ids have a standby (memory stays bounded with many workers)", () => {
  const f = fakeSpawn();
  const s = new Standbys(f.spawn);
  for (let id = 0; id < 64; id++) s.prepare(id, 0);
  assert.equal(f.spawned.length, MAX_STANDBYS);
  assert.equal(s.take(MAX_STANDBYS), null);
});
