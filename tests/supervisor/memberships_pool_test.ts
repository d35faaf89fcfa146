import assert from "node:assert/strict";
import { NativeError } from "../../ffi/errno.ts";
import type { NativeAddress } from "../../ffi/membership.ts";
import { formatIp } from "../../src/net/address.ts";
import {
  defaultMembershipLimit,
  Memberships,
  type MembershipSocketLike,
} from "../../src/supervisor/memberships.ts";
import type { MembershipKey } from "../../src/supervisor/plan.ts";

/**
 * A fake kernel: its sockets refuse a join past their capacity with
 * ENOBUFS, as ffi/membership.ts reports it, refuse joining one group in
 * both modes on one socket (EINVAL), and fail a chosen label with any errno.
 */
class FakeKernel {
  sockets: FakeSocket[] = [];
  refused = 0;
  warnings: string[] = [];
  /** Capacity of the n-th socket opened (the last entry for the rest). */
  constructor(
    readonly capacities: number[] = [20],
    readonly failures = new Map<string, number>(),
  ) {}

  /** Open sockets beyond this many fail with EMFILE. */
  maxSockets = Infinity;

  open = (family: 4 | 6): MembershipSocketLike => {
    const n = this.sockets.length;
    if (this.state().length >= this.maxSockets) {
      throw new NativeError("mcr_membership_open", 24, "Cannot open the membership socket");
    }
    const s = new FakeSocket(
      this,
      family,
      this.capacities[Math.min(n, this.capacities.length - 1)],
    );
    this.sockets.push(s);
    return s;
  };

  logger = { warn: (msg: string) => void this.warnings.push(msg) };

  /** What every open socket holds, as "ifindex (source, group)" lines. */
  state(): string[][] {
    return this.sockets.filter((s) => !s.closed).map((s) => [...s.joined].sort());
  }
}

class FakeSocket implements MembershipSocketLike {
  closed = false;
  joined = new Set<string>();
  constructor(readonly kernel: FakeKernel, readonly family: 4 | 6, readonly capacity: number) {}

  join(ifindex: number, group: NativeAddress, source: NativeAddress | null, label: string): void {
    assert.equal(this.closed, false, "join on a closed socket");
    assert.equal(group.family, this.family);
    const entry = `${ifindex} ${
      source ? `(${formatIp(source)}, ${formatIp(group)})` : formatIp(group)
    }`;
    const errno = this.kernel.failures.get(label);
    if (errno !== undefined) throw nativeError(errno, label);
    const g = formatIp(group);
    const otherMode = [...this.joined].some((e) =>
      source ? e === `${ifindex} ${g}` : e.startsWith(`${ifindex} (`) && e.endsWith(`, ${g})`)
    );
    if (otherMode) throw nativeError(22, label);
    if (this.joined.has(entry)) throw nativeError(98, label);
    if (this.joined.size >= this.capacity) {
      this.kernel.refused++;
      throw nativeError(105, label);
    }
    this.joined.add(entry);
  }

  leave(ifindex: number, group: NativeAddress, source: NativeAddress | null, label: string): void {
    assert.equal(this.closed, false, "leave on a closed socket");
    const entry = `${ifindex} ${
      source ? `(${formatIp(source)}, ${formatIp(group)})` : formatIp(group)
    }`;
    if (this.kernel.failures.get(`leave ${label}`)) throw nativeError(99, label);
    if (!this.joined.delete(entry)) throw nativeError(99, label);
  }

  close(): void {
    this.closed = true;
    this.joined.clear();
  }
}

function nativeError(errno: number, label: string): NativeError {
  return new NativeError("mcr_membership_change", errno, `Cannot join group ${label}`, {
    group: label,
  });
}

function groups(count: number, from = 0): MembershipKey[] {
  return Array.from({ length: count }, (_, i) => ({
    family: 4 as const,
    group: `239.1.${(from + i) >> 8}.${(from + i) & 255}`,
    source: null,
  }));
}

function setup(kernel: FakeKernel, limit = 20): Memberships {
  return new Memberships({ open: kernel.open, limit: () => limit, logger: kernel.logger });
}

const eth1 = new Map([["eth1", { ifindex: 3 }]]);

Deno.test("Memberships.join() spreads 200 groups over 10 sockets of 20", () => {
  const kernel = new FakeKernel([20]);
  const pool = setup(kernel);
  pool.join(new Map([["eth1", groups(200)]]), eth1);
  assert.equal(pool.count(), 200);
  assert.deepEqual(kernel.state().map((s) => s.length), new Array(10).fill(20));
  assert.equal(pool.snapshot()[0].sockets, 10);
  assert.equal(kernel.refused, 0);
});

Deno.test("Memberships.join() fills existing sockets up to the limit before opening another", () => {
  const kernel = new FakeKernel([20]);
  const pool = setup(kernel);
  pool.join(new Map([["eth1", groups(15)]]), eth1);
  pool.join(new Map([["eth1", groups(30)]]), eth1);
  assert.deepEqual(kernel.state().map((s) => s.length), [20, 10]);
  assert.equal(kernel.sockets.length, 2);
});

Deno.test("Memberships.join() opens another socket when the kernel refuses a join before the limit", () => {
  const kernel = new FakeKernel([7, 20]);
  const pool = setup(kernel);
  pool.join(new Map([["eth1", groups(30)]]), eth1);
  assert.equal(pool.count(), 30);
  assert.deepEqual(kernel.state().map((s) => s.length), [7, 20, 3]);
  assert.equal(kernel.refused, 1);
  pool.join(new Map([["eth1", groups(35)]]), eth1);
  assert.deepEqual(kernel.state().map((s) => s.length), [7, 20, 8]);
  assert.equal(kernel.refused, 1, "the full socket's real capacity is remembered");
});

Deno.test("Memberships.join() names the group, the interface and the sysctls when a new socket refuses, and changes nothing", () => {
  const kernel = new FakeKernel([20, 3, 0]);
  const pool = setup(kernel);
  pool.join(new Map([["eth1", groups(20)]]), eth1);
  const before = { state: kernel.state(), snapshot: pool.snapshot() };
  assert.throws(() => pool.join(new Map([["eth1", groups(30)]]), eth1), (err: Error) => {
    assert.match(err.message, /239\.1\.0\.23/);
    assert.match(err.message, /"eth1"/);
    assert.match(err.message, /net\.ipv4\.igmp_max_memberships/);
    assert.match(err.message, /net\.core\.optmem_max/);
    assert.equal((err.cause as NativeError).errno, 105);
    return true;
  });
  assert.deepEqual(kernel.state(), before.state, "no socket left open, nothing joined");
  assert.deepEqual(pool.snapshot(), before.snapshot);
  assert.equal(pool.count(), 20);
});

Deno.test("Memberships.join() names the source-specific and IPv6 sysctls when a new socket refuses", () => {
  const ssm: MembershipKey = { family: 4, group: "232.1.1.1", source: "10.0.0.1" };
  assert.throws(
    () => setup(new FakeKernel([0])).join(new Map([["eth1", [ssm]]]), eth1),
    /\(10\.0\.0\.1, 232\.1\.1\.1\) on interface "eth1".*net\.ipv4\.igmp_max_memberships, net\.core\.optmem_max, net\.ipv4\.igmp_max_msf/,
  );
  const v6: MembershipKey = { family: 6, group: "ff3e::1", source: null };
  const kernel = new FakeKernel([0]);
  const pool = setup(kernel);
  assert.throws(
    () => pool.join(new Map([["eth1", [v6]]]), eth1),
    /ff3e::1 on interface "eth1".*net\.core\.optmem_max, net\.ipv6\.mld_max_msf/,
  );
  assert.deepEqual(kernel.state(), []);
  assert.deepEqual(pool.snapshot(), []);
});

Deno.test("Memberships.join() undoes everything it did when a join fails for another reason midway", () => {
  const kernel = new FakeKernel([10], new Map([["239.1.0.25", 19]]));
  const pool = setup(kernel, 10);
  pool.join(new Map([["eth1", groups(5)]]), eth1);
  const before = { state: kernel.state(), snapshot: pool.snapshot() };
  assert.throws(
    () =>
      pool.join(
        new Map([["eth2", groups(3)], ["eth1", groups(30)]]),
        new Map([...eth1, ["eth2", { ifindex: 4 }]]),
      ),
    (err: NativeError) => err instanceof NativeError && err.errno === 19,
  );
  assert.deepEqual(kernel.state(), before.state);
  assert.deepEqual(pool.snapshot(), before.snapshot);
  assert.equal(pool.count(), 5);
});

Deno.test("Memberships.join() closes the sockets it opened when opening another one fails", () => {
  const kernel = new FakeKernel([10]);
  const pool = setup(kernel, 10);
  pool.join(new Map([["eth1", groups(5)]]), eth1);
  const before = { state: kernel.state(), snapshot: pool.snapshot() };
  kernel.maxSockets = 2;
  const facts = new Map([...eth1, ["eth2", { ifindex: 4 }]]);
  assert.throws(
    () => pool.join(new Map([["eth1", groups(15)], ["eth2", groups(3)]]), facts),
    (err: NativeError) => err instanceof NativeError && err.code === "EMFILE",
  );
  assert.deepEqual(kernel.state(), before.state);
  assert.deepEqual(pool.snapshot(), before.snapshot, "no empty entry left for eth2");
});

Deno.test("Memberships.join() rollback() undoes exactly the call that returned it", () => {
  const kernel = new FakeKernel([10]);
  const pool = setup(kernel, 10);
  const rollbackFirst = pool.join(new Map([["eth1", groups(15)]]), eth1);
  const afterFirst = { state: kernel.state(), snapshot: pool.snapshot() };
  const rollbackSecond = pool.join(new Map([["eth1", groups(40)]]), eth1);
  assert.equal(pool.count(), 40);
  rollbackSecond();
  assert.deepEqual(kernel.state(), afterFirst.state);
  assert.deepEqual(pool.snapshot(), afterFirst.snapshot);
  rollbackSecond();
  assert.equal(pool.count(), 15, "a second rollback() does nothing");
  rollbackFirst();
  assert.deepEqual(kernel.state(), []);
  assert.deepEqual(pool.snapshot(), []);
});

Deno.test("Memberships.leaveUnwanted() leaves what is no longer wanted and closes sockets left empty", () => {
  const kernel = new FakeKernel([20], new Map([["leave 239.1.0.3", 99]]));
  const pool = setup(kernel);
  pool.join(new Map([["eth1", groups(45)]]), eth1);
  assert.equal(kernel.state().length, 3);
  pool.leaveUnwanted(new Map([["eth1", groups(18)]]));
  assert.equal(pool.count(), 18);
  assert.deepEqual(kernel.state().map((s) => s.length), [18]);
  assert.equal(pool.snapshot()[0].sockets, 1);
  pool.leaveUnwanted(new Map());
  assert.equal(kernel.warnings.length, 1, "the failed leave is logged");
  assert.equal(pool.count(), 0, "and forgotten");
  assert.deepEqual(kernel.state(), []);
  assert.deepEqual(pool.snapshot(), []);
});

Deno.test("Memberships.join() drops the memberships of a re-created interface and joins on its new ifindex", () => {
  const kernel = new FakeKernel([20]);
  const pool = setup(kernel);
  const wanted = new Map([["eth1", groups(25)]]);
  pool.join(wanted, eth1);
  pool.join(wanted, new Map([["eth1", { ifindex: 9 }]]));
  assert.equal(kernel.sockets.length, 4);
  assert.deepEqual(kernel.state().map((s) => s.length), [20, 5]);
  assert.ok(kernel.state().flat().every((e) => e.startsWith("9 ")));
  assert.equal(pool.snapshot()[0].ifindex, 9);
  assert.equal(pool.count(), 25);
});

Deno.test("Memberships.join() leaves a group's membership in the other mode first, and rollback() joins it again", () => {
  const kernel = new FakeKernel([20]);
  const pool = setup(kernel);
  const any: MembershipKey = { family: 4, group: "232.1.1.1", source: null };
  const ssm: MembershipKey = { family: 4, group: "232.1.1.1", source: "10.0.0.1" };
  const other: MembershipKey = { family: 4, group: "239.2.2.2", source: null };
  pool.join(new Map([["eth1", [any, other]]]), eth1);
  const rollback = pool.join(new Map([["eth1", [ssm, other]]]), eth1);
  assert.deepEqual(kernel.state(), [["3 (10.0.0.1, 232.1.1.1)", "3 239.2.2.2"]]);
  rollback();
  assert.deepEqual(kernel.state(), [["3 232.1.1.1", "3 239.2.2.2"]]);
  assert.deepEqual(pool.snapshot()[0].memberships.sort(), ["232.1.1.1", "239.2.2.2"]);

  pool.leaveUnwanted(new Map());
  pool.join(new Map([["eth1", [ssm]]]), eth1);
  pool.join(new Map([["eth1", [any]]]), eth1);
  assert.deepEqual(pool.snapshot()[0].memberships, ["232.1.1.1"]);
});

Deno.test("Memberships.snapshot() lists each interface and family with its sockets and memberships", () => {
  const kernel = new FakeKernel([20]);
  const pool = setup(kernel);
  const wanted = new Map<string, MembershipKey[]>([
    ["eth2", [{ family: 4, group: "239.9.9.9", source: null }]],
    ["eth1", [
      { family: 6, group: "ff3e::1234", source: "2001:db8::1" },
      { family: 4, group: "232.1.1.1", source: "10.0.0.1" },
      { family: 4, group: "239.1.1.1", source: null },
    ]],
    ["eth9", groups(3)],
  ]);
  pool.join(wanted, new Map([["eth1", { ifindex: 3 }], ["eth2", { ifindex: 4 }]]));
  assert.deepEqual(pool.snapshot(), [
    {
      interface: "eth1",
      family: 4,
      ifindex: 3,
      sockets: 1,
      memberships: ["(10.0.0.1, 232.1.1.1)", "239.1.1.1"],
    },
    {
      interface: "eth1",
      family: 6,
      ifindex: 3,
      sockets: 1,
      memberships: ["(2001:db8::1, ff3e::1234)"],
    },
    { interface: "eth2", family: 4, ifindex: 4, sockets: 1, memberships: ["239.9.9.9"] },
  ]);
  assert.equal(pool.count(), 4, "eth9 is absent: its rules wait");
  pool.closeAll();
  assert.deepEqual(kernel.state(), []);
  assert.equal(pool.count(), 0);
});

Deno.test("defaultMembershipLimit() reads igmp_max_memberships for IPv4 and takes 64 for IPv6", () => {
  let expected = 20;
  try {
    expected = Number(Deno.readTextFileSync("/proc/sys/net/ipv4/igmp_max_memberships").trim()) ||
      20;
  } catch {
    // not readable here: the default applies
  }
  assert.equal(defaultMembershipLimit(4), expected);
  assert.equal(defaultMembershipLimit(6), 64);
});
