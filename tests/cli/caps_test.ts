import assert from "node:assert/strict";
import { checkCapabilities, processCapabilities } from "../../src/cli/caps.ts";

const NET_ADMIN = 1n << 12n;
const NET_RAW = 1n << 13n;

Deno.test("checkCapabilities() passes with CAP_NET_RAW and CAP_NET_ADMIN", () => {
  assert.equal(checkCapabilities(["CAP_NET_RAW", "CAP_NET_ADMIN"], NET_ADMIN | NET_RAW).ok, true);
});

Deno.test("checkCapabilities() names each missing capability and how to grant it", () => {
  const r = checkCapabilities(["CAP_NET_RAW", "CAP_NET_ADMIN"], NET_ADMIN);
  assert.equal(r.ok, false);
  assert.deepEqual(r.missing, ["CAP_NET_RAW"]);
  assert.match(r.message, /missing CAP_NET_RAW \(raw packet sockets\)/);
  assert.match(r.message, /setcap cap_net_raw,cap_net_admin\+ep/);
  assert.match(
    checkCapabilities(["CAP_NET_RAW", "CAP_NET_ADMIN"], 0n).message,
    /CAP_NET_RAW .* and CAP_NET_ADMIN/,
  );
});

Deno.test("processCapabilities() reads this process's effective set (capget): the kernel's CapEff", async () => {
  // Read through a child (Deno gives /proc/<pid> only to --allow-all).
  const cat = await new Deno.Command("cat", { args: [`/proc/${Deno.pid}/status`], stdout: "piped" })
    .output();
  const status = new TextDecoder().decode(cat.stdout);
  const capEff = BigInt("0x" + status.match(/^CapEff:\s+([0-9a-f]+)$/m)![1]);
  assert.equal(processCapabilities(), capEff);
});

Deno.test("mcr run without the capabilities fails at start with a message naming them", {
  ignore: !Deno.statSync("/usr/bin/setpriv").isFile || (Deno.uid() ?? 1) !== 0,
}, async () => {
  const main = new URL("../../main.ts", import.meta.url).pathname;
  const out = await new Deno.Command("setpriv", {
    args: [
      "--inh-caps=-all",
      "--bounding-set=-net_raw,-net_admin",
      "--",
      Deno.execPath(),
      "run",
      "--allow-ffi",
      "--allow-read",
      "--allow-write",
      "--allow-net",
      "--allow-env",
      "--allow-run",
      "--allow-sys",
      main,
      "run",
      "--config",
      "/nonexistent.yaml",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const err = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 1);
  assert.match(err, /mcr run: missing CAP_NET_RAW \(raw packet sockets\) and CAP_NET_ADMIN/);
});
