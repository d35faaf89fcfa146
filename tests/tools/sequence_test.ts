import assert from "node:assert/strict";
import fc from "fast-check";
import { SequenceTracker } from "../../src/tools/sequence.ts";

Deno.test("SequenceTracker counts injected loss, duplicates and reordering exactly", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 5000 }),
      fc.array(fc.nat(), { maxLength: 50 }),
      fc.array(fc.nat(), { maxLength: 50 }),
      fc.array(fc.nat(), { maxLength: 20 }),
      (n, lossPicks, dupPicks, swapPicks) => {
        const seqs = Array.from({ length: n }, (_, i) => i);
        const lost = new Set(lossPicks.map((p) => p % n));
        let stream = seqs.filter((s) => !lost.has(s));
        const dups = dupPicks.filter(() => stream.length > 0).map((p) => stream[p % stream.length]);
        // Swap adjacent pairs (each swap makes exactly one packet arrive late).
        const swapped = new Set<number>();
        for (const p of swapPicks) {
          const i = p % Math.max(1, stream.length - 1);
          if (
            stream.length < 2 || swapped.has(i) || swapped.has(i + 1) || swapped.has(i - 1)
          ) continue;
          [stream[i], stream[i + 1]] = [stream[i + 1], stream[i]];
          swapped.add(i);
        }
        stream = [...stream, ...dups];
        const t = new SequenceTracker();
        for (const s of stream) t.add(s);
        assert.equal(t.unique, n - lost.size);
        assert.equal(t.lost(n), lost.size);
        assert.equal(t.duplicates, dups.length);
        assert.equal(t.reordered, swapped.size);
        assert.equal(t.received, stream.length);
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("SequenceTracker without an expected count reports gaps below the highest seen", () => {
  const t = new SequenceTracker();
  for (const s of [0, 1, 2, 5, 6]) t.add(s);
  assert.equal(t.lost(), 2);
  assert.equal(t.lowest, 0);
  assert.equal(t.highest, 6);
});

Deno.test("SequenceTracker grows its bitmap for large sequence numbers", () => {
  const t = new SequenceTracker();
  t.add(10_000_000);
  t.add(10_000_000);
  assert.equal(t.unique, 1);
  assert.equal(t.duplicates, 1);
});
