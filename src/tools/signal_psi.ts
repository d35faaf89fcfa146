/**
 * The test signal's PSI sections (ISO/IEC 13818-1 2.4.4): the PAT, PMT and
 * CAT of its one program, built once per signal, and their CRC-32/MPEG-2
 * (the table-driven CRC of src/streams/crc32.ts, which the inspector checks
 * them with). Imports signal_params.ts and src/streams/crc32.ts.
 */
import { mpegCrc32 } from "../streams/crc32.ts";
import { SIGNAL } from "./signal_params.ts";

// ---- CRC-32/MPEG-2 -----------------------------------------------------------

/**
 * CRC-32/MPEG-2 of bytes[start, end): initial value 0xFFFFFFFF, no reflection,
 * no final xor. Over a whole PSI section including its CRC field it gives 0.
 * src/streams/crc32.ts's (the inspector's), over a Uint8Array.
 */
export function crc32Mpeg2(bytes: Uint8Array, start = 0, end = bytes.length): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return mpegCrc32(view, start, end - start);
}

// ---- PSI sections ----------------------------------------------------------------

/**
 * A long-form section: table_id, section_length, the 5 bytes of the extended
 * header (id, version 0, current_next 1, section 0 of 0), `body`, CRC32.
 */
function section(tableId: number, id: number, body: number[]): Uint8Array {
  const length = 5 + body.length + 4; // after the section_length field
  const bytes = new Uint8Array(3 + length);
  bytes[0] = tableId;
  bytes[1] = 0xb0 | (length >> 8); // section_syntax_indicator 1, '0', reserved '11'
  bytes[2] = length & 0xff;
  bytes[3] = id >> 8;
  bytes[4] = id & 0xff;
  bytes[5] = 0xc1; // reserved '11', version_number 0, current_next_indicator 1
  bytes[6] = 0x00; // section_number
  bytes[7] = 0x00; // last_section_number
  bytes.set(body, 8);
  const crc = crc32Mpeg2(bytes, 0, bytes.length - 4);
  bytes[bytes.length - 4] = crc >>> 24;
  bytes[bytes.length - 3] = (crc >>> 16) & 0xff;
  bytes[bytes.length - 2] = (crc >>> 8) & 0xff;
  bytes[bytes.length - 1] = crc & 0xff;
  return bytes;
}

/** PAT: program 1 -> PMT on 0x100. */
export function patSection(): Uint8Array {
  const pmt = SIGNAL.PID_PMT;
  return section(0x00, SIGNAL.TRANSPORT_STREAM_ID, [
    SIGNAL.PROGRAM_NUMBER >> 8,
    SIGNAL.PROGRAM_NUMBER & 0xff,
    0xe0 | (pmt >> 8), // reserved '111', program_map_PID
    pmt & 0xff,
  ]);
}

/** PMT of program 1: PCR on 0x101, video 0x101 (0x1b), audio 0x102 (0x0f), no descriptors. */
export function pmtSection(): Uint8Array {
  const es = (type: number, pid: number) => [type, 0xe0 | (pid >> 8), pid & 0xff, 0xf0, 0x00];
  return section(0x02, SIGNAL.PROGRAM_NUMBER, [
    0xe0 | (SIGNAL.PCR_PID >> 8), // reserved '111', PCR_PID
    SIGNAL.PCR_PID & 0xff,
    0xf0, // reserved '1111', program_info_length 0
    0x00,
    ...es(SIGNAL.STREAM_TYPE_VIDEO, SIGNAL.PID_VIDEO),
    ...es(SIGNAL.STREAM_TYPE_AUDIO, SIGNAL.PID_AUDIO),
  ]);
}

/** CAT without descriptors (its 16-bit id field is reserved: all ones). */
export function catSection(): Uint8Array {
  return section(0x01, 0xffff, []);
}
