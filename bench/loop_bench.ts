/**
 * The forwarding loop alone: processBlock() over a fake arena
 * (tests/helpers/fake_ring.ts) holding 1,000,000 synthetic UDP packets, with
 * a FakeKicker that plays the kernel and makes every queued TX frame
 * available again at each kick. No root, no sockets: this measures the
 * TypeScript per-packet work (walk, parse, match, rewrite, copy, counters)
 * plus the fake kernel's reclaim (measured separately and printed).
 *
 *   $DENO run -A bench/loop_bench.ts                    # all four cases
 *   $DENO run -A bench/loop_bench.ts --packets 200000   # quicker
 *   $DENO run -A bench/loop_bench.ts --tx-frames 1024   # smaller TX rings (working set)
 *   $DENO run -A --v8-flags=--trace-gc bench/loop_bench.ts | awk '/^measure /{m=1} /^done /{m=0} m && /Scavenge|Mark-Compact/{n++} END{print n+0, "GCs while measuring"}'
 *   $DENO run -A --v8-flags=--trace-deopt bench/loop_bench.ts 2>&1 | grep -i 'deoptimizing\|bailout'
 *
 * Prints, per case: ns per packet and per output copy (best and median of
 * --rounds runs), the largest heap growth over one run
 * (Deno.memoryUsage().heapUsed), and a check that every copy was queued.
 * Numbers are for comparison between runs on one machine.
 */
import { parseArgs } from "node:util";
import { processBlock } from "../src/dataplane/forward_loop.ts";
import { TP_STATUS_SEND_REQUEST } from "../ffi/layout.ts";
import type { InterfaceFacts } from "../src/supervisor/plan.ts";
import { fakeWorker, planFor, workerCounters } from "../tests/helpers/fake_ring.ts";
import { udpFrame } from "../tests/helpers/frames.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    packets: { type: "string", default: "1000000" },
    rounds: { type: "string", default: "3" },
    /** Frames per TX ring (the relay's default is DEFAULT_TX_FRAMES, 4096). */
    "tx-frames": { type: "string", default: "4096" },
  },
});
const PACKETS = Number(values.packets);
/** Measured runs per case; the best and the median are printed (this machine is noisy). */
const ROUNDS = Math.max(1, Number(values.rounds));
const TX_FRAMES = Number(values["tx-frames"]);
const WARMUP = Math.min(300_000, PACKETS);

const INTERFACES: InterfaceFacts[] = [
  { name: "in0", ifindex: 2, mtu: 1500, ipv4: 0x0a000002, mac: [2, 0, 0, 0, 0, 2] },
  ...[1, 2, 3, 4].map((i) => ({
    name: `out${i}`,
    ifindex: 10 + i,
    mtu: 1500,
    ipv4: 0x0a000001 + (i << 8),
    mac: [2, 0, 0, 0, i, 1],
  })),
];

interface Result {
  name: string;
  /** ns per packet of each round, sorted. */
  nsPerPacket: number[];
  outputs: number;
  heapGrowthKiB: number;
  ok: boolean;
}

/** Calls the GC when V8 exposes it (--v8-flags=--expose-gc), so heap readings are steadier. */
function collect(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) gc();
}

function runCase(payload: number, outputs: number): Result {
  const name = `${payload} B payload, ${outputs} output${outputs > 1 ? "s" : ""}`;
  const plan = planFor({
    rules: [{
      name: "bench",
      input: { interface: "in0", group: "239.1.1.1", port: 5001 },
      outputs: Array.from(
        { length: outputs },
        (_, i) => ({ interface: `out${i + 1}`, group: `239.9.9.${i + 1}`, port: 6000 + i }),
      ),
    }],
  }, INTERFACES);
  const w = fakeWorker(plan, {
    blockSize: 128 * 1024,
    blockCount: 64,
    txFrames: TX_FRAMES,
    kicker: { send: true, quiet: true },
  });
  const rx = w.arena.rx[0];
  const input = w.inputs[0];
  const frames = Array.from(
    { length: 64 },
    (_, i) => udpFrame({ payload, id: i, src: `10.0.0.${1 + (i & 7)}` }),
  );
  const perBlock: number[] = [];
  for (let b = 0; b < rx.blockCount; b++) {
    const packets = Array.from({ length: 4096 }, (_, i) => frames[(b + i) & 63]);
    perBlock.push(rx.fit(b, packets));
  }

  /** Processes blocks until `n` packets went through; hands each block straight back to "user space". */
  const pump = (n: number): void => {
    let done = 0;
    while (done < n) {
      const b = input.cursor;
      processBlock(w.state, input);
      rx.giveToUser(b);
      done += perBlock[b];
    }
  };

  pump(WARMUP);
  const times: number[] = [];
  let heapGrowth = 0;
  let ok = true;
  for (let round = 0; round < ROUNDS; round++) {
    w.state.workerCounters.fill(0);
    collect();
    console.log(`measure ${name}`); // markers for counting --trace-gc lines
    const heapBefore = Deno.memoryUsage().heapUsed;
    const t0 = performance.now();
    pump(PACKETS);
    const elapsed = performance.now() - t0;
    const heapAfter = Deno.memoryUsage().heapUsed;
    console.log(`done ${name}`);
    const c = workerCounters(w.state);
    times.push(elapsed * 1e6 / c.rx_packets);
    heapGrowth = Math.max(heapGrowth, (heapAfter - heapBefore) / 1024);
    ok &&= c.tx_sent === c.rx_packets * outputs && c.tx_ring_full === 0 &&
      c.matched === c.rx_packets;
  }
  return { name, nsPerPacket: times.sort((a, b) => a - b), outputs, heapGrowthKiB: heapGrowth, ok };
}

/** What the fake kernel's reclaim costs per copy: mark frames SEND_REQUEST, then send() them. */
function fakeKernelNsPerCopy(): number {
  const plan = planFor({
    rules: [{
      name: "k",
      input: { interface: "in0", group: "239.1.1.1", port: 5001 },
      outputs: [{ interface: "out1", group: "239.9.9.1", port: 6000 }],
    }],
  }, INTERFACES);
  const w = fakeWorker(plan, {
    blockCount: 2,
    txFrames: 4096,
    kicker: { send: true, quiet: true },
  });
  const tx = w.arena.tx[0];
  const view = w.arena.view;
  let total = 0;
  const rounds = Math.ceil(PACKETS / 4096);
  for (let warm = 0; warm < 2; warm++) {
    const t0 = performance.now();
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < 4096; i++) {
        view.setUint32(tx.offset + i * tx.frameSize, TP_STATUS_SEND_REQUEST, true);
      }
      tx.send(false);
    }
    total = performance.now() - t0;
  }
  return total * 1e6 / (rounds * 4096);
}

console.log(
  `loop_bench: ${PACKETS} packets per case and round, ${ROUNDS} rounds (after ${WARMUP} warm-up), ` +
    `${TX_FRAMES} frames per TX ring, Deno ${Deno.version.deno}, V8 ${Deno.version.v8}`,
);
const results: Result[] = [];
for (const [payload, outputs] of [[64, 1], [64, 4], [1024, 1], [1024, 4]]) {
  results.push(runCase(payload, outputs));
}
const kernel = fakeKernelNsPerCopy();
console.log("");
console.log(
  "case                          ns/packet best (median)   ns/copy best (median)   heap growth  all copies queued",
);
for (const r of results) {
  const best = r.nsPerPacket[0];
  const median = r.nsPerPacket[Math.floor(r.nsPerPacket.length / 2)];
  console.log(
    `${r.name.padEnd(28)}  ${best.toFixed(0).padStart(9)} (${median.toFixed(0).padStart(5)})  ` +
      `${(best / r.outputs).toFixed(0).padStart(14)} (${
        (median / r.outputs).toFixed(0).padStart(5)
      })  ` +
      `${r.heapGrowthKiB.toFixed(0).padStart(8)} KiB  ${r.ok ? "yes" : "NO"}`,
  );
}
console.log(`(included above: the fake kernel's reclaim, ~${kernel.toFixed(1)} ns per copy)`);
