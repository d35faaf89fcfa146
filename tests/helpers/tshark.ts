/**
 * tshark's RTP stream analysis (`-z rtp,streams`) of a capture, as the
 * independent decoder tests hold mcr's figures against: one row per RTP
 * stream with its SSRC, packets, lost and the delta and jitter columns,
 * whose set and order vary between tshark versions and are read by their
 * header names (4.0: Min/Mean/Max Delta, Min/Mean/Max Jitter).
 */
import type { Topology } from "../../src/tools/topology.ts";

export interface RtpStreamRow {
  ssrc: number;
  /** The destination address of the stream. */
  destination: string;
  packets: number;
  lost: number;
  maxDelta: number;
  maxJitter: number;
  meanJitter: number;
  /** tshark flagged a problem (sequence errors, wrong timestamps). */
  problems: boolean;
  row: string;
}

export async function tsharkRtpStreams(
  t: Topology,
  ns: string,
  pcap: string,
  port: number,
): Promise<RtpStreamRow[]> {
  const out = await tshark(t, ns, pcap, port, ["-q", "-z", "rtp,streams"]);
  const lines = out.split("\n");
  const header = lines.find((l) => /Max Jitter/.test(l));
  if (!header) throw new Error(`no header in tshark's analysis:\n${out}`);
  const columns = [...header.matchAll(/(Min|Mean|Max) (Delta|Jitter)/g)].map((m) => m[0]);
  return lines.filter((l) => /0x[0-9A-Fa-f]{8}/.test(l)).map((row) => {
    const fields = row.trim().split(/\s+/);
    const [, packets, lost] = row.match(/\s(\d+)\s+(-?\d+)\s+\(-?[\d.]+%\)/)!;
    const after = row.slice(row.indexOf("%)") + 2).trim().split(/\s+/).map(Number);
    const column = (name: string): number => {
      const i = columns.indexOf(name);
      if (i < 0 || !Number.isFinite(after[i])) {
        throw new Error(`tshark's analysis has no "${name}" column:\n${header}\n${row}`);
      }
      return after[i];
    };
    return {
      ssrc: parseInt(row.match(/0x([0-9A-Fa-f]{8})/)![1], 16),
      destination: fields[4],
      packets: Number(packets),
      lost: Number(lost),
      maxDelta: column("Max Delta"),
      maxJitter: column("Max Jitter"),
      meanJitter: column("Mean Jitter"),
      problems: row.trim().endsWith("X"),
      row,
    };
  });
}

export interface RtpPacket {
  /** When the capture saw it, in seconds since the epoch (the kernel's receive time). */
  time: number;
  ssrc: number;
  seq: number;
}

/**
 * tshark over a capture: `port` decoded as RTP (the streams analysis or the
 * per-packet fields), or plain frames when null; `args` what to print.
 */
async function tshark(
  t: Topology,
  ns: string,
  pcap: string,
  port: number | null,
  args: string[],
): Promise<string> {
  const decode = port === null ? [] : ["-d", `udp.port==${port},rtp`];
  return (await t.run(ns, ["tshark", "-r", pcap, ...decode, ...args])).stdout;
}

/** The tab-separated `fields` of each packet `filter` keeps, one row a packet. */
async function fieldRows(
  t: Topology,
  ns: string,
  pcap: string,
  port: number | null,
  fields: string[],
  filter: string[] = [],
): Promise<string[][]> {
  const out = await tshark(t, ns, pcap, port, [
    "-T",
    "fields",
    ...fields.flatMap((f) => ["-e", f]),
    ...filter,
  ]);
  return out.split("\n").filter((l) => l.trim() !== "").map((l) => l.trim().split("\t"));
}

/** Every RTP packet of a capture on `port`, in capture order. */
export async function tsharkRtpPackets(
  t: Topology,
  ns: string,
  pcap: string,
  port: number,
): Promise<RtpPacket[]> {
  const rows = await fieldRows(t, ns, pcap, port, ["frame.time_epoch", "rtp.ssrc", "rtp.seq"], [
    "rtp",
  ]);
  return rows.map(([time, ssrc, seq]) => ({
    time: Number(time),
    ssrc: parseInt(ssrc, 16),
    seq: Number(seq),
  }));
}

/** When each packet of a capture arrived (seconds since the epoch, the kernel's receive time). */
export async function captureTimes(t: Topology, ns: string, pcap: string): Promise<number[]> {
  return (await fieldRows(t, ns, pcap, null, ["frame.time_epoch"])).map(([time]) => Number(time));
}
