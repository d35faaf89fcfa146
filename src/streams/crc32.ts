/**
 * CRC-32 of MPEG-2 PSI sections (ISO/IEC 13818-1 annex A): polynomial
 * 0x04C11DB7, initial value 0xFFFFFFFF, bits most significant first, no
 * final inversion. Run over a whole section including its CRC_32 field, it
 * gives 0 when the section is intact.
 */

const TABLE = new Uint32Array(256);
for (let i = 0; i < 256; i++) {
  let c = i << 24;
  for (let k = 0; k < 8; k++) c = (c & 0x80000000) !== 0 ? (c << 1) ^ 0x04c11db7 : c << 1;
  TABLE[i] = c >>> 0;
}

/** The MPEG-2 CRC-32 of the bytes [off, off+len) of `view`. */
export function mpegCrc32(view: DataView, off: number, len: number): number {
  let crc = 0xffffffff;
  for (let i = 0; i < len; i++) {
    crc = ((crc << 8) ^ TABLE[((crc >>> 24) ^ view.getUint8(off + i)) & 0xff]) >>> 0;
  }
  return crc;
}
