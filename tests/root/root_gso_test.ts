/**
 * UDP GSO input on a real kernel: a sender using UDP_SEGMENT (as containers'
 * applications do) hands its link one frame per 8 datagrams. With `gso` on
 * the input the relay relays every datagram; without it such a frame cannot
 * be read whole and is counted, never half relayed.
 */
import assert from "node:assert/strict";
import { withTopology } from "../../src/tools/topology.ts";
import { rootTest } from "../helpers/netns.ts";
import { sleep, startRelay, startSink } from "../helpers/relay.ts";

const SENDER = new URL("./fixtures/gso_sender.py", import.meta.url).pathname;
const SENDS = 500;
const SEGMENTS = 8;
const SIZE = 1000;

function yaml(input: string, output: string, gso: boolean, mode: "frames" | "blocks"): string {
  return `ring: { rx_mode: ${mode} }\nrules:\n  - name: g\n    input: { interface: ${input}, group: 239.1.1.1, port: 5001${
    gso ? ", gso: true" : ""
  } }\n` +
    `    outputs:\n      - { interface: ${output}, group: 239.9.9.9, port: 5099 }\n`;
}

rootTest(
  "root: a UDP GSO sender's frames (8 datagrams each) are relayed datagram by datagram with gso on the input (frames and blocks rings); without it they are counted, not relayed",
  async () => {
    await withTopology(async (t) => {
      const n = await t.chain();
      // A container's veth keeps TX checksum offload on, which UDP GSO needs (the
      // chain turns it off for the generator; with it off the sender's kernel
      // segments in software and the relay sees ordinary frames).
      await t.setOffload(n.gen, n.genIf, { tx: true });
      const phases = [{ gso: true, mode: "frames" }, { gso: true, mode: "blocks" }, {
        gso: false,
        mode: "frames",
      }] as const;
      for (const [i, { gso, mode }] of phases.entries()) {
        const relay = await startRelay(t, n.relay, yaml(n.relayIn, n.relayOut, gso, mode), [
          "--no-api",
        ]);
        const runId = 61 + i;
        const sink = startSink(t, n.sink, {
          group: "239.9.9.9",
          port: 5099,
          iface: n.sinkIf,
          runId,
          idleMs: 1500,
          maxSeconds: gso ? 30 : 6,
        });
        await sleep(300);
        const sent = await t.run(n.gen, [
          "python3",
          SENDER,
          "239.1.1.1",
          "5001",
          "10.0.0.1",
          String(SENDS),
          String(SEGMENTS),
          String(SIZE),
          String(runId),
        ], 60_000);
        assert.equal(sent.code, 0, sent.stderr);
        assert.equal(Number(sent.stdout.trim()), SENDS * SEGMENTS);
        const got = await sink.result;
        const { stats } = await relay.stop();
        const totals = stats!.totals;
        if (gso) {
          assert.equal(
            got.unique,
            SENDS * SEGMENTS,
            `${mode}: every datagram relayed: ${JSON.stringify(got)} ${JSON.stringify(totals)}`,
          );
          assert.equal(got.corrupted, 0);
          assert.equal(got.duplicates, 0);
          assert.ok(
            totals.rx_gso_frames > 0 && totals.rx_gso_frames <= SENDS,
            `GSO frames seen: ${JSON.stringify(totals)}`,
          );
          assert.equal(totals.rx_packets, SENDS * SEGMENTS, "rx_packets counts the datagrams");
          assert.equal(totals.tx_too_big, 0);
        } else {
          assert.equal(got.unique, 0, "without gso no part of a GSO frame is relayed");
          assert.equal(totals.drop_truncated, SENDS, "each frame counted once, as truncated");
        }
      }
    });
  },
);

rootTest(
  "root: gso turned on over the API is in force when acknowledged: the ring is re-created with segmentation headers and the next GSO frames are relayed whole",
  async () => {
    await withTopology(async (t) => {
      const n = await t.chain();
      await t.setOffload(n.gen, n.genIf, { tx: true });
      const relay = await startRelay(t, n.relay, yaml(n.relayIn, n.relayOut, false, "frames"));
      try {
        const rule = {
          name: "g",
          input: { interface: n.relayIn, group: "239.1.1.1", port: 5001, gso: true },
          outputs: [{ interface: n.relayOut, group: "239.9.9.9", port: 5099 }],
        };
        const put = await t.run(n.relay, [
          "curl",
          "-s",
          "-o",
          "/dev/null",
          "-w",
          "%{http_code}",
          "-X",
          "PUT",
          "-H",
          "content-type: application/json",
          "-d",
          JSON.stringify(rule),
          "http://127.0.0.1:8787/api/v1/rules/g",
        ]);
        assert.equal(put.stdout, "200");
        const sink = startSink(t, n.sink, {
          group: "239.9.9.9",
          port: 5099,
          iface: n.sinkIf,
          runId: 71,
          idleMs: 1500,
          maxSeconds: 30,
        });
        await sleep(300);
        const sent = await t.run(n.gen, [
          "python3",
          SENDER,
          "239.1.1.1",
          "5001",
          "10.0.0.1",
          "100",
          String(SEGMENTS),
          String(SIZE),
          "71",
        ], 60_000);
        assert.equal(sent.code, 0, sent.stderr);
        const got = await sink.result;
        assert.equal(
          got.unique,
          100 * SEGMENTS,
          `acknowledged, so in force: ${JSON.stringify(got)}`,
        );
      } finally {
        await relay.stop();
      }
    });
  },
);
