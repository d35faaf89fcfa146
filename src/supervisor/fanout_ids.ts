/**
 * PACKET_FANOUT group ids for a plan's RX rings (0: one worker, a spread ring
 * every worker reads alone, or a ring one worker owns). An input keeps its group while its rings
 * stay; a ring re-created for a new worker count or ring kind gets a NEW
 * group, so that during the succession every packet lands in one old and
 * one new ring (src/dataplane/succession.ts). Ids are unique per process
 * and never shared by two inputs in force.
 */
import { type RxPlan, sameRx } from "../dataplane/plan_types.ts";

export class FanoutIds {
  #serial = 0;
  /** Where this process's ids start: apart from another relay's (groups are per network namespace). */
  readonly #base: number;

  constructor(pid: number = Deno.pid) {
    this.#base = (Math.imul(pid, 0x9e3779b1) >>> 16) & 0xffff;
  }

  /**
   * Sets `fanoutId` on every ring of `rx`. `previous`: the rings in force;
   * `sameCount`: the worker count does not change with this plan.
   */
  assign(rx: RxPlan[], previous: readonly RxPlan[], workers: number, sameCount: boolean): void {
    const taken = new Set(previous.map((r) => r.fanoutId));
    for (const r of rx) {
      if (workers === 1 || r.spread || r.owner !== undefined) {
        r.fanoutId = 0;
        continue;
      }
      const prev = previous.find((p) => p.ifindex === r.ifindex && p.fanoutId !== 0);
      if (prev && sameCount && sameRx(prev, { ...r, fanoutId: prev.fanoutId })) {
        r.fanoutId = prev.fanoutId;
        continue;
      }
      // 65,535 ids; far fewer inputs can be in force, so a free one is always found.
      let id: number;
      do id = (this.#base + this.#serial++) & 0xffff; while (id === 0 || taken.has(id));
      taken.add(id);
      r.fanoutId = id;
    }
  }
}
