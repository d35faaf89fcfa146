/** Capability check at start: a clear message instead of EPERM deep inside. */
import { effectiveCapabilities as capget } from "../../ffi/process.ts";

export type Capability = "CAP_NET_RAW" | "CAP_NET_ADMIN";

/** Bit numbers from <linux/capability.h>. */
const CAP_BITS: Record<Capability, number> = { CAP_NET_ADMIN: 12, CAP_NET_RAW: 13 };
const WHY: Record<Capability, string> = {
  CAP_NET_RAW: "raw packet sockets",
  CAP_NET_ADMIN: "multicast membership, ring options, network namespaces",
};

/** Reads the effective capability mask from /proc/self/status text. */
export function effectiveCapabilities(statusText: string): bigint {
  const m = statusText.match(/^CapEff:\s*([0-9a-fA-F]+)$/m);
  return m ? BigInt(`0x${m[1]}`) : 0n;
}

export interface CapabilityCheck {
  ok: boolean;
  missing: Capability[];
  message: string;
}

/**
 * The process's effective capabilities, from capget(2) through the native
 * library (Deno only lets --allow-all programs read /proc/self/status).
 */
export function processCapabilities(): bigint {
  return capget();
}

/** Checks that the process holds the capabilities it needs (`effective` defaults to this process's). */
export function checkCapabilities(needed: Capability[], effective?: bigint): CapabilityCheck {
  const eff = effective ?? processCapabilities();
  const missing = needed.filter((c) => (eff & (1n << BigInt(CAP_BITS[c]))) === 0n);
  const message = missing.length === 0
    ? "ok"
    : `missing ${missing.map((c) => `${c} (${WHY[c]})`).join(" and ")}. ` +
      "Run as root or grant them: setcap cap_net_raw,cap_net_admin+ep ./mcr, or AmbientCapabilities= in the systemd unit.";
  return { ok: missing.length === 0, missing, message };
}
