/**
 * CRC32C (Castagnoli), as Secret Manager uses for `dataCrc32c`. Table-driven; Node 20 has no
 * built-in CRC32C (zlib.crc32 is the IEEE polynomial, and only from Node 22).
 */
let table: Uint32Array | undefined;

/** The 256-entry table, built on first use (not at cold start: only a secret read needs it). */
function crcTable(): Uint32Array {
  if (table) return table;
  table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
}

/** CRC32C of `data` as an unsigned 32-bit number. */
export function crc32c(data: Uint8Array): number {
  const lookup = crcTable();
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) crc = lookup[(crc ^ data[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
