/**
 * An MSDP peering against a peer played by this test over loopback TCP:
 * the session comes up, SAs go out for what mcr relays, SAs coming in are
 * cached, and a peer that sends garbage or goes silent loses its session
 * (counted) while mcr tries again.
 */
import assert from "node:assert/strict";
import { buildKeepalive, buildSa, MsdpReader, type SaEntry } from "../../src/protocols/msdp.ts";
import { MsdpPeer, type MsdpPeerOptions } from "../../src/protocols/msdp_peer.ts";

const OPTS: Omit<MsdpPeerOptions, "port"> = {
  peer: "127.0.0.2",
  local: "127.0.0.1",
  keepaliveMs: 200,
  holdMs: 800,
  connectRetryMs: 200,
  saIntervalMs: 300,
  saHoldMs: 1000,
  maxSa: 3,
};

async function until(what: string, ms: number, ok: () => boolean): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function harness(advertised: SaEntry[] = []) {
  const listener = Deno.listen({ hostname: "127.0.0.2", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const counts: Record<string, number> = {};
  const events: Record<string, unknown>[] = [];
  const peer = new MsdpPeer({ ...OPTS, port }, {
    advertised: () => advertised,
    count: (c, n = 1) => counts[c] = (counts[c] ?? 0) + n,
    onEvent: (e) => events.push(e),
  });
  return { listener, peer, counts, events };
}

/** Reads messages from the connection into `got` until it closes. */
async function collect(
  conn: Deno.Conn,
  got: { type: number; entries?: SaEntry[]; rp?: string }[],
): Promise<void> {
  const reader = new MsdpReader();
  const buf = new Uint8Array(4096);
  try {
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) return;
      reader.push(buf.subarray(0, n));
      for (let m = reader.next(); m !== null; m = reader.next()) {
        if (m.ok) got.push(m.value as never);
      }
    }
  } catch { /* closed */ }
}

Deno.test({
  name:
    "the lower address connects; the session sends keepalives and SAs for what mcr relays, and caches the peer's SAs up to max_sa",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const { listener, peer, counts, events } = harness([{
      source: "10.0.0.1",
      group: "239.9.9.1",
    }]);
    try {
      assert.equal(peer.active, true);
      peer.start();
      const conn = await listener.accept();
      const got: { type: number; entries?: SaEntry[]; rp?: string }[] = [];
      const reading = collect(conn, got);
      await until("established", 2000, () => peer.state === "established");
      await until(
        "an SA and keepalives",
        2000,
        () => got.some((m) => m.type === 1) && got.filter((m) => m.type === 4).length >= 2,
      );
      const sa = got.find((m) => m.type === 1)!;
      assert.equal(sa.rp, "127.0.0.1", "the originator is the session's local address by default");
      assert.deepEqual(sa.entries, [{ group: "239.9.9.1", source: "10.0.0.1" }]);

      const entries = [1, 2, 3, 4, 5].map((i) => ({ source: `10.1.0.${i}`, group: "239.5.5.5" }));
      for (const m of buildSa("10.77.0.1", entries)) await conn.write(m);
      await until("the SAs cached", 2000, () => peer.cache(Date.now()).length === 3);
      assert.equal(counts.msdp_sa_refused, 2, "entries beyond max_sa are refused and counted");
      assert.deepEqual(peer.cache(Date.now()).map((e) => e.rp), [
        "10.77.0.1",
        "10.77.0.1",
        "10.77.0.1",
      ]);
      assert.equal(events[0].state, "established");
      // Kept alive by our keepalives past the hold time; entries expire after sa_hold_ms.
      for (let i = 0; i < 6; i++) {
        await conn.write(buildKeepalive());
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.equal(peer.state, "established");
      peer.expire(Date.now());
      assert.equal(
        peer.cache(Date.now()).length,
        0,
        "SA entries go after sa_hold_ms without a refresh",
      );
      conn.close();
      await reading;
    } finally {
      await peer.stop();
      listener.close();
    }
  },
});

Deno.test({
  name:
    "a peer that sends an unframeable TLV loses the session (counted invalid); a silent one loses it at the hold timer; mcr connects again",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const { listener, peer, counts, events } = harness();
    try {
      peer.start();
      const first = await listener.accept();
      await until("established", 2000, () => peer.state === "established");
      await first.write(new Uint8Array([1, 0, 1])); // length 1: cannot be framed
      await until("the session to close", 2000, () => peer.state !== "established");
      assert.equal(counts.msdp_invalid, 1);
      assert.match(String(peer.info(Date.now()).last_error), /bad_length/);
      first.close();

      const second = await listener.accept(); // mcr tries again after connect_retry
      await until("established again", 2000, () => peer.state === "established");
      const t0 = Date.now();
      await until("the hold timer to expire", 3000, () => peer.state !== "established");
      assert.ok(Date.now() - t0 >= OPTS.holdMs - 100, "closed by the hold timer, not sooner");
      assert.match(String(peer.info(Date.now()).last_error), /hold timer/);
      assert.equal(counts.msdp_established, 2);
      assert.deepEqual(events.map((e) => e.state), ["established", "down", "established", "down"]);
      second.close();
    } finally {
      await peer.stop();
      listener.close();
    }
  },
});

Deno.test({
  name:
    "the higher address listens: a connection from the peer is taken, a second one while up is refused",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const peer = new MsdpPeer({
      ...OPTS,
      peer: "127.0.0.1",
      local: "127.0.0.2",
      port: (listener.addr as Deno.NetAddr).port,
    }, {
      advertised: () => [],
      count: () => {},
      onEvent: () => {},
    });
    try {
      assert.equal(peer.active, false);
      peer.start();
      assert.equal(peer.state, "listening");
      const a = await Deno.connect({
        hostname: "127.0.0.1",
        port: (listener.addr as Deno.NetAddr).port,
      });
      const b = await listener.accept();
      assert.equal(peer.accept(b), true);
      assert.equal(peer.state, "established");
      const c = await Deno.connect({
        hostname: "127.0.0.1",
        port: (listener.addr as Deno.NetAddr).port,
      });
      const d = await listener.accept();
      assert.equal(peer.accept(d), false, "one session at a time");
      d.close();
      c.close();
      a.close();
    } finally {
      await peer.stop();
      listener.close();
    }
  },
});
