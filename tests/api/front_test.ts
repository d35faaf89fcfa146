/**
 * The API's front door under abuse: idle floods, slowloris, and a real
 * client that must still be served; descriptors stay bounded.
 */
import assert from "node:assert/strict";
import { serveFront } from "../../src/api/front.ts";

async function withFront(
  limits: { maxConnections: number; headerTimeoutMs: number; idleTimeoutMs: number },
  fn: (port: number, front: ReturnType<typeof serveFront>) => Promise<void>,
): Promise<void> {
  const dir = Deno.makeTempDirSync();
  const path = `${dir}/up.sock`;
  const ready = Promise.withResolvers<void>();
  const server = Deno.serve({ path, onListen: () => ready.resolve() }, async (req) => {
    // /slow: a request that takes a while to answer (as explain's 300 ms look does).
    if (new URL(req.url).pathname === "/slow") await new Promise((r) => setTimeout(r, 1500));
    return new Response("hello");
  });
  await ready.promise;
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const front = serveFront(listener, path, limits);
  try {
    await fn((listener.addr as Deno.NetAddr).port, front);
  } finally {
    front.stop();
    await server.shutdown();
    Deno.removeSync(dir, { recursive: true });
  }
}

async function get(port: number, path = "/"): Promise<{ status: number; ms: number }> {
  const t0 = performance.now();
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(5000) });
  await res.text();
  return { status: res.status, ms: performance.now() - t0 };
}

Deno.test({
  name:
    "serveFront() under a flood of idle connections keeps at most the cap open and still serves a real client at once",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await withFront(
      { maxConnections: 16, headerTimeoutMs: 2000, idleTimeoutMs: 4000 },
      async (port, front) => {
        const idle: Deno.Conn[] = [];
        for (let i = 0; i < 300; i++) {
          idle.push(await Deno.connect({ hostname: "127.0.0.1", port }));
        }
        await new Promise((r) => setTimeout(r, 200));
        assert.ok(front.stats().open <= 16, `open ${front.stats().open}`);
        // The real client waits its turn behind the flood in the accept queue: each idle
        // connection is closed once it has been idle EVICT_GRACE_MS.
        const r = await get(port);
        assert.equal(r.status, 200);
        assert.ok(r.ms < 1000, `served in ${r.ms.toFixed(0)} ms`);
        const s = front.stats();
        assert.ok(s.open <= 16, `open ${s.open}`);
        assert.ok(s.evicted >= s.accepted - 16, JSON.stringify(s));
        for (const c of idle) c.close();
      },
    );
  },
});

Deno.test({
  name:
    "serveFront() closes a slowloris client that never finishes its request head, and an idle keep-alive connection",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await withFront(
      { maxConnections: 16, headerTimeoutMs: 400, idleTimeoutMs: 800 },
      async (port, front) => {
        const slow = await Deno.connect({ hostname: "127.0.0.1", port });
        const enc = new TextEncoder();
        await slow.write(enc.encode("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n"));
        let closed = false;
        const reader = (async () => {
          const buf = new Uint8Array(64);
          try {
            while ((await slow.read(buf)) !== null) { /* nothing comes */ }
          } catch { /* reset */ }
          closed = true;
        })();
        for (let i = 0; i < 8 && !closed; i++) {
          await new Promise((r) => setTimeout(r, 150));
          try {
            await slow.write(enc.encode("X-Slow: 1\r\n")); // a header line every 150 ms, never the end
          } catch {
            break;
          }
        }
        await reader;
        assert.ok(closed, "the slow client was cut off");
        assert.ok(front.stats().header_timeouts >= 1);
        slow.close();
        // A normal request is still served.
        assert.equal((await get(port)).status, 200);
      },
    );
  },
});

Deno.test({
  name:
    "serveFront() at the cap closes connections idle between requests, never one whose request is being answered",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await withFront(
      { maxConnections: 4, headerTimeoutMs: 5000, idleTimeoutMs: 10000 },
      async (port, front) => {
        const slow = get(port, "/slow"); // in flight for 1.5 s: the oldest activity of all
        await new Promise((r) => setTimeout(r, 200));
        const idle: Deno.Conn[] = [];
        for (let i = 0; i < 50; i++) {
          idle.push(await Deno.connect({ hostname: "127.0.0.1", port }));
        }
        assert.equal((await slow).status, 200, "the request in flight was answered");
        const s = front.stats();
        assert.ok(
          s.evicted >= 50 - 3,
          `the idle ones were closed to make room: ${JSON.stringify(s)}`,
        );
        assert.ok(s.cap_waits >= 1, "newcomers waited while every connection was busy");
        for (const c of idle) c.close();
      },
    );
  },
});
