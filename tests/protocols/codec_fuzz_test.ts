/**
 * Every routing-protocol parser takes any bytes: it returns a value or a
 * reason, never throws, never reads past what it was given, and what the
 * builders write parses back to what they were given.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { buildIpv4, internetChecksum, parseIpv4 } from "../../src/protocols/ip_packet.ts";
import {
  buildHostMessage,
  buildQuery,
  buildReport3,
  decodeCode,
  encodeCode,
  parseIgmp,
} from "../../src/protocols/igmp.ts";
import { buildHello, buildJoinPrune, parsePim } from "../../src/protocols/pim.ts";
import { buildSa, MsdpReader, parseMsdp } from "../../src/protocols/msdp.ts";
import { buildIpv6Mld, parseIpv6Icmp } from "../../src/protocols/ip_packet.ts";
import {
  buildMldHostMessage,
  buildMldQuery,
  buildMldReport2,
  decodeMrc,
  encodeMrc,
  parseMld,
} from "../../src/protocols/mld.ts";

const RUNS = Number(Deno.env.get("MCR_FUZZ_RUNS") ?? 20_000);
const bytes = fc.uint8Array({ minLength: 0, maxLength: 600 });
const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((a) => a.join("."));

/** Bytes with a correct Internet checksum at [2,3] (so parsing goes past the checksum check). */
function withChecksum(b: Uint8Array): Uint8Array {
  if (b.length < 4) return b;
  const c = b.slice();
  c[2] = c[3] = 0;
  const sum = internetChecksum(c);
  c[2] = sum >> 8;
  c[3] = sum & 0xff;
  return c;
}

/** A valid message, then mutated: a byte flipped, cut short, or lengthened. */
function mutated(valid: fc.Arbitrary<Uint8Array>) {
  return fc.tuple(
    valid,
    fc.nat(),
    fc.nat(255),
    fc.constantFrom("flip", "cut", "grow", "flip-fixsum"),
  ).map(([m, at, v, how]) => {
    if (m.length === 0) return m;
    if (how === "cut") return m.slice(0, at % m.length);
    if (how === "grow") return new Uint8Array([...m, v, v]);
    const c = m.slice();
    c[at % c.length] = v;
    return how === "flip-fixsum" ? withChecksum(c) : c;
  });
}

const igmpValid = fc.oneof(
  fc.tuple(ipv4, fc.integer({ min: 100, max: 25_500 })).map(([g, ms]) => buildQuery(2, g, ms)),
  fc.tuple(ipv4, fc.integer({ min: 100, max: 3_000_000 }), fc.array(ipv4, { maxLength: 5 })).map((
    [g, ms, s],
  ) => buildQuery(3, g, ms, 2, 125, s)),
  fc.tuple(
    fc.constantFrom("report1", "report2", "leave") as fc.Arbitrary<"report1" | "report2" | "leave">,
    ipv4,
  ).map(([k, g]) => buildHostMessage(k, g)),
  fc.array(
    fc.record({
      type: fc.integer({ min: 1, max: 6 }),
      group: ipv4,
      sources: fc.array(ipv4, { maxLength: 4 }),
    }, { noNullPrototype: true }),
    { maxLength: 4 },
  )
    .map((r) => buildReport3(r)),
);

const source = fc.record({
  address: ipv4,
  maskLength: fc.constant(32),
  sparse: fc.boolean(),
  wildcard: fc.boolean(),
  rpt: fc.boolean(),
}, { noNullPrototype: true });
const joinPrune = fc.record({
  upstream: ipv4,
  holdtimeS: fc.nat(0xffff),
  groups: fc.array(
    fc.record({
      group: ipv4,
      maskLength: fc.constant(32),
      joins: fc.array(source, { maxLength: 3 }),
      prunes: fc.array(source, { maxLength: 3 }),
    }),
    { maxLength: 3 },
  ),
}, { noNullPrototype: true });
const pimValid = fc.oneof(
  fc.tuple(fc.nat(0xffff), fc.nat(), fc.nat()).map(([h, p, g]) => buildHello(h, p >>> 0, g >>> 0)),
  joinPrune.map((jp) => buildJoinPrune(jp)),
);

Deno.test("parseIpv4/parseIgmp/parsePim/parseMsdp/parseMld/parseIpv6Icmp never throw on any bytes, and only accept what they fully read", () => {
  fc.assert(
    fc.property(bytes, (b) => {
      for (const parse of [parseIpv4, parseIgmp, parsePim, parseMsdp, parseMld, parseIpv6Icmp]) {
        const r = parse(b);
        if (!r.ok) assert.equal(typeof r.reason, "string");
      }
      const ip = parseIpv4(b);
      if (ip.ok) {
        assert.ok(ip.value.payload.byteOffset + ip.value.payload.length <= b.byteOffset + b.length);
      }
    }),
    { numRuns: RUNS },
  );
});

Deno.test("mutated IGMP and PIM messages (flipped, cut, grown, checksum fixed up) give a value or a reason, never an exception", () => {
  fc.assert(
    fc.property(mutated(igmpValid), (m) => {
      const r = parseIgmp(m);
      if (r.ok && r.value.kind === "report3") {
        for (const rec of r.value.records) assert.ok(rec.sources.length <= m.length / 4);
      }
    }),
    { numRuns: RUNS },
  );
  fc.assert(
    fc.property(mutated(pimValid), (m) => {
      const r = parsePim(m);
      if (r.ok && "joinPrune" in r.value) {
        const entries = r.value.joinPrune.groups.reduce(
          (n, g) => n + g.joins.length + g.prunes.length,
          0,
        );
        assert.ok(entries * 8 <= m.length, "no entry is read from past the end");
      }
    }),
    { numRuns: RUNS },
  );
});

Deno.test("IGMP queries and reports built here parse back to what was built", () => {
  fc.assert(fc.property(igmpValid, (m) => assert.ok(parseIgmp(m).ok)), { numRuns: 2000 });
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          type: fc.integer({ min: 1, max: 6 }),
          group: ipv4,
          sources: fc.array(ipv4, { maxLength: 4 }),
        }, { noNullPrototype: true }),
        { maxLength: 4 },
      ),
      (records) => {
        const r = parseIgmp(buildReport3(records));
        assert.ok(r.ok && r.value.kind === "report3");
        assert.deepEqual(r.value.records, records);
      },
    ),
    { numRuns: 2000 },
  );
});

Deno.test("PIM Join/Prunes and Hellos built here parse back to what was built", () => {
  fc.assert(
    fc.property(joinPrune, (jp) => {
      const r = parsePim(buildJoinPrune(jp));
      assert.ok(r.ok && "joinPrune" in r.value);
      assert.deepEqual(r.value.joinPrune, JSON.parse(JSON.stringify(jp)));
    }),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(fc.nat(0xffff), fc.nat(), fc.nat(), (h, p, g) => {
      const r = parsePim(buildHello(h, p >>> 0, g >>> 0));
      assert.ok(r.ok && "hello" in r.value);
      assert.equal(r.value.hello.holdtimeS, h);
      assert.equal(r.value.hello.drPriority, p >>> 0);
      assert.equal(r.value.hello.generationId, g >>> 0);
    }),
    { numRuns: 2000 },
  );
});

Deno.test("an IPv4 packet built here parses back; a flipped header byte fails the header checksum", () => {
  fc.assert(
    fc.property(
      ipv4,
      ipv4,
      fc.nat(255),
      fc.boolean(),
      fc.uint8Array({ maxLength: 64 }),
      fc.integer({ min: 0, max: 19 }),
      (s, d, proto, ra, payload, at) => {
        const p = buildIpv4(s, d, proto, 1, payload, ra);
        const r = parseIpv4(p);
        assert.ok(r.ok);
        assert.equal(r.value.source, s);
        assert.equal(r.value.destination, d);
        assert.equal(r.value.protocol, proto);
        assert.equal(r.value.routerAlert, ra);
        assert.deepEqual([...r.value.payload], [...payload]);
        const bad = p.slice();
        bad[at === 10 || at === 11 ? 8 : at] ^= 0x01;
        assert.equal(parseIpv4(bad).ok, false);
      },
    ),
    { numRuns: 2000 },
  );
});

Deno.test("MSDP: a stream of SAs and keepalives cut at arbitrary points frames back into the same messages; a length below 3 or above 9192 is an error", () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ source: ipv4, group: ipv4 }, { noNullPrototype: true }), {
        minLength: 1,
        maxLength: 300,
      }),
      fc.array(fc.nat(50), { maxLength: 40 }),
      (entries, cuts) => {
        const messages = buildSa("10.0.0.1", entries);
        const stream = new Uint8Array(messages.reduce((n, m) => n + m.length + 3, 0));
        let off = 0;
        for (const m of messages) {
          stream.set(m, off);
          stream.set([4, 0, 3], off + m.length);
          off += m.length + 3;
        }
        const reader = new MsdpReader();
        const got: unknown[] = [];
        let at = 0;
        for (const c of [...cuts, stream.length]) {
          const end = Math.min(stream.length, at + c + 1);
          reader.push(stream.subarray(at, end));
          at = end;
          for (let m = reader.next(); m !== null; m = reader.next()) {
            assert.ok(m.ok);
            got.push(m.value);
          }
          if (at >= stream.length) break;
        }
        const sas = got.filter((m) => (m as { type: number }).type === 1) as {
          entries: unknown[];
          rp: string;
        }[];
        assert.equal(sas.length, messages.length);
        assert.deepEqual(
          sas.flatMap((m) => m.entries),
          entries,
        );
        assert.equal(got.length, messages.length * 2);
      },
    ),
    { numRuns: 500 },
  );
  for (const len of [0, 1, 2, 9193, 65535]) {
    const r = new MsdpReader();
    r.push(new Uint8Array([1, len >> 8, len & 0xff, 0, 0]));
    const m = r.next();
    assert.ok(m !== null && !m.ok && m.reason === "bad_length", `length ${len}`);
  }
});

const ipv6 = fc.array(fc.nat(0xffff), { minLength: 8, maxLength: 8 }).map((w) =>
  w.map((x) => x.toString(16)).join(":")
);
const canon6 = (t: string) => {
  const r = parseIpv6Icmp(buildIpv6Mld(t, "ff02::1", buildMldHostMessage("report1", t)));
  return r.ok ? r.value.source : t;
};

Deno.test("MLD messages built here, in IPv6 packets with a hop-by-hop Router Alert, parse back; mutated ones give a value or a reason", () => {
  fc.assert(
    fc.property(
      ipv6,
      fc.integer({ min: 1, max: 8_000_000 }),
      fc.constantFrom(1, 2) as fc.Arbitrary<1 | 2>,
      (g, ms, v) => {
        const packet = buildIpv6Mld("fe80::1", "ff02::1", buildMldQuery(v, g, ms));
        const ip = parseIpv6Icmp(packet);
        assert.ok(ip.ok && ip.value.routerAlert && ip.value.hopLimit === 1);
        const q = parseMld(ip.value.payload);
        assert.ok(q.ok && q.value.kind === "query");
        assert.equal(q.value.group, canon6(g));
        assert.equal(q.value.version, v === 1 ? 2 : 3, "MLDv1 reads as IGMPv2, MLDv2 as IGMPv3");
        if (v === 2) {
          assert.ok(
            Math.abs(q.value.maxResponseMs - ms) <= ms / 16 + 1,
            "the float code keeps the value within its precision",
          );
        }
        const bad = packet.slice();
        bad[50] ^= 0x10;
        assert.equal(parseIpv6Icmp(bad).ok, false, "a flipped byte fails the ICMPv6 checksum");
      },
    ),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          type: fc.integer({ min: 1, max: 6 }),
          group: ipv6,
          sources: fc.array(ipv6, { maxLength: 3 }),
        }, { noNullPrototype: true }),
        { maxLength: 4 },
      ),
      (records) => {
        const ip = parseIpv6Icmp(buildIpv6Mld("fe80::2", "ff02::16", buildMldReport2(records)));
        assert.ok(ip.ok);
        const r = parseMld(ip.value.payload);
        assert.ok(r.ok && r.value.kind === "report3");
        assert.deepEqual(
          r.value.records,
          records.map((x) => ({
            type: x.type,
            group: canon6(x.group),
            sources: x.sources.map(canon6),
          })),
        );
      },
    ),
    { numRuns: 1000 },
  );
  fc.assert(
    fc.property(
      mutated(
        fc.tuple(ipv6, fc.boolean()).map(([g, d]) =>
          buildIpv6Mld(
            "fe80::3",
            "ff02::1",
            d
              ? buildMldHostMessage("done", g)
              : buildMldReport2([{ type: 4, group: g, sources: [g] }]),
          )
        ),
      ),
      (m) => {
        const ip = parseIpv6Icmp(m);
        if (ip.ok) parseMld(ip.value.payload);
      },
    ),
    { numRuns: RUNS },
  );
  for (const ms of [0, 1, 32767, 32768, 100_000, 8_000_000]) {
    assert.ok(Math.abs(decodeMrc(encodeMrc(ms)) - ms) <= ms / 16 + 1, `${ms}`);
  }
});

Deno.test("IGMPv3's 8-bit time code: exact below 128, within its precision above, the largest value at most", () => {
  for (let v = 0; v < 128; v++) assert.equal(decodeCode(encodeCode(v)), v);
  fc.assert(
    fc.property(fc.integer({ min: 128, max: 31_744 }), (v) => {
      const back = decodeCode(encodeCode(v));
      assert.ok(back <= v && v - back < v / 16 + 1, `${v} -> ${back}`);
    }),
    { numRuns: 5000 },
  );
  assert.equal(
    decodeCode(encodeCode(1_000_000)),
    31_744,
    "too large: the largest the code can say",
  );
});

Deno.test("an MLDv2 query carries its query interval as the float code: 125 s as it is, 3,600 s as the code for it (it was cut to 127 s)", () => {
  for (const [s, want] of [[125, 125], [3600, 3584]] as const) {
    const q = parseMld(buildMldQuery(2, "::", 1000, 2, s));
    assert.ok(q.ok && q.value.kind === "query");
    assert.equal(q.value.intervalS, want);
  }
});
