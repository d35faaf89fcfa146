/**
 * An MSDP peering against a peer played by this test over loopback TCP
 * (src/supervisor/msdp_connection.ts around src/protocols/msdp_peer.ts):
 * the session comes up, SAs go out for what mcr relays, SAs coming in are
 * cached, and a peer that sends garbage or goes silent loses its session
 * (counted) while mcr tries again. Then the pure peering alone, time passed
 * in by hand: the hold timer, keepalives and SAs, connect attempts.
 */
import assert from "node:assert/strict";
import { buildKeepalive, buildSa, MsdpReader, type SaEntry } from "../../src/protocols/msdp.ts";
import { type MsdpAction, MsdpPeer, type MsdpPeerOptions } from "../../src/protocols/msdp_peer.ts";
import { MsdpConnection } from "../../src/supervisor/msdp_connection.ts";

const OPTS: MsdpPeerOptions = {
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
  const peer = new MsdpConnection({ ...OPTS, port }, {
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
    const peer = new MsdpConnection({
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

// ---- the pure peering, on a fake clock ------------------------------------------

function pure(opts: Partial<MsdpPeerOptions> = {}) {
  const counts: Record<string, number> = {};
  const events: Record<string, unknown>[] = [];
  const peer = new MsdpPeer({ ...OPTS, ...opts }, {
    advertised: () => [{ source: "10.0.0.1", group: "239.9.9.1" }],
    count: (c, n = 1) => counts[c] = (counts[c] ?? 0) + n,
    onEvent: (e) => events.push(e),
  });
  /** The actions asked for, as "connect", "keepalive", "sa" or "close". */
  const taken = () =>
    peer.outbox.splice(0).map((a: MsdpAction) =>
      a.type === "send" ? (a.bytes[0] === 4 ? "keepalive" : "sa") : a.type
    );
  /** Ticks every 10 ms from `from` to `to`: the times at which each action was asked for. */
  const run = (from: number, to: number) => {
    const at: [number, string][] = [];
    for (let now = from; now <= to; now += 10) {
      peer.tick(now);
      for (const a of taken()) at.push([now, a]);
    }
    return at;
  };
  return { peer, counts, events, taken, run };
}

/** An established session at time 0 (the lower address connects). */
function established(opts: Partial<MsdpPeerOptions> = {}) {
  const h = pure(opts);
  h.peer.start(0);
  const [connect] = h.peer.outbox.splice(0) as { type: "connect"; attempt: number }[];
  const session = h.peer.connected(connect.attempt, 0)!;
  assert.deepEqual(h.taken(), ["keepalive", "sa"], "a keepalive and the SAs at once");
  return { ...h, session };
}

Deno.test("pure: the hold timer closes the session hold_time after the last message, not sooner; each message restarts it; then connect again after connect_retry", () => {
  const { peer, session, events, run } = established();
  assert.equal(peer.nextDue(0), 200, "the first keepalive is the next thing due");
  assert.ok(run(0, 490).every(([, a]) => a === "keepalive" || a === "sa"));
  peer.received(session, buildKeepalive(), 500);
  const at = run(500, 1500);
  assert.deepEqual(at.filter(([, a]) => a !== "keepalive" && a !== "sa"), [
    [1300, "close"],
    [1500, "connect"],
  ], "closed 800 ms after the last message (not 800 ms after the session came up)");
  assert.ok(at.every(([t, a]) => a === "close" || a === "connect" || t < 1300), "quiet after");
  assert.equal(peer.state, "connecting");
  assert.match(String(peer.info(1500).last_error), /hold timer expired/);
  assert.deepEqual(events.map((e) => [e.state, e.reason]), [
    ["established", undefined],
    ["down", "hold timer expired"],
  ]);
  peer.received(session, buildKeepalive(), 1510);
  assert.equal(peer.state, "connecting", "the old session's bytes are not read");
});

Deno.test("pure: keepalives every keepalive period and SAs every SA period while the session is up", () => {
  const { peer, session, taken, run } = established();
  const at = run(0, 700);
  assert.deepEqual(at.filter(([, a]) => a === "keepalive").map(([t]) => t), [200, 400, 600]);
  assert.deepEqual(at.filter(([, a]) => a === "sa").map(([t]) => t), [300, 600]);
  peer.closed(session, "peer closed the connection", 700);
  assert.deepEqual(taken(), ["close"]);
  assert.deepEqual(run(710, 890), [], "nothing sent on a closed session");
  assert.deepEqual(run(900, 900), [[900, "connect"]], "connect again after connect_retry");
});

Deno.test("pure: a connect attempt with no answer gives up after connect_retry (1 s at least) and tries again; the late answer of the given-up attempt is refused", () => {
  const { peer, run } = pure({ connectRetryMs: 200 });
  peer.start(0);
  const [first] = peer.outbox.splice(0) as { type: "connect"; attempt: number }[];
  assert.equal(first.type, "connect");
  assert.deepEqual(run(0, 990), []);
  assert.equal(peer.info(990).last_error, null);
  assert.deepEqual(run(1000, 1190), [], "given up at 1000 ms (not at connect_retry's 200)");
  assert.match(String(peer.info(1190).last_error), /connect timed out/);
  peer.tick(1200);
  const [second] = peer.outbox.splice(0) as { type: "connect"; attempt: number }[];
  assert.equal(second.type, "connect");
  assert.equal(peer.connected(first.attempt, 1210), null, "the given-up attempt is closed");
  assert.notEqual(peer.connected(second.attempt, 1220), null);
  assert.equal(peer.state, "established");
});

Deno.test("pure: the higher address never connects; it takes one session from the peer at a time, and listens again when it ends", () => {
  const { peer, taken, run } = pure({ peer: "127.0.0.1", local: "127.0.0.2" });
  peer.start(0);
  assert.equal(peer.state, "listening");
  assert.deepEqual(run(0, 5000), []);
  const session = peer.accepted(5000)!;
  assert.notEqual(session, null);
  assert.equal(peer.accepted(5010), null, "one session at a time");
  taken();
  peer.received(session, new Uint8Array([1, 0, 1]), 5020);
  assert.deepEqual(taken(), ["close"]);
  assert.equal(peer.state, "listening");
  assert.deepEqual(run(5030, 9000), [], "no connect attempt");
});
