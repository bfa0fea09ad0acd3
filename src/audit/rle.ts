import { ValueWriter } from './value-writer.ts';

// Parquet's RLE/bit-packing hybrid: dictionary indices and definition levels.

/** Bit width of dictionary indices below `size` (at least 1). */
function bitWidth(size: number): number {
  let w = 1;
  while (1 << w < size) w++;
  return w;
}

/**
 * RLE_DICTIONARY data: the bit width, then the indices in the RLE/bit-packing hybrid: one RLE run when
 * they are all the same, else one bit-packed run (gzip takes care of repetition inside it).
 */
export function packIndices(out: ValueWriter, indices: Uint16Array, count: number, size: number): void {
  const width = bitWidth(size);
  out.byte(width);
  if (count === 0) return;
  let same = true;
  const first = indices[0] as number;
  for (let i = 1; i < count && same; i++) same = indices[i] === first;
  if (same) {
    out.varint(count * 2);
    for (let b = 0; b < Math.ceil(width / 8); b++) out.byte((first >>> (8 * b)) & 0xff);
    return;
  }
  const groups = Math.ceil(count / 8);
  out.varint(groups * 2 + 1);
  const [buf, at] = out.reserve(groups * width);
  let pos = at;
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < groups * 8; i++) {
    acc |= (i < count ? (indices[i] as number) : 0) << bits;
    bits += width;
    while (bits >= 8) {
      buf[pos++] = acc & 0xff;
      acc >>>= 8;
      bits -= 8;
    }
  }
}

/**
 * Definition levels (bit width 1) in the RLE/bit-packing hybrid, with the 4-byte length prefix data
 * page v1 wants: one RLE run when all values are present (or all absent), else one bit-packed run.
 */
export function definitionLevels(defined: ArrayLike<number>, n = defined.length, present?: number): Buffer {
  const out = new ValueWriter(16 + Math.ceil(n / 8));
  writeDefinitionLevels(out, defined, n, present);
  return out.bytes();
}

export function writeDefinitionLevels(
  out: ValueWriter,
  defined: ArrayLike<number>,
  n: number,
  present: number | undefined,
): void {
  let count = present;
  if (count === undefined) {
    count = 0;
    for (let i = 0; i < n; i++) if (defined[i]) count++;
  }
  const lengthAt = out.size;
  out.int32(0); // length, filled in below
  if (count === n || count === 0) {
    out.varint(n * 2);
    out.byte(count === 0 ? 0 : 1);
  } else {
    const groups = Math.ceil(n / 8);
    out.varint(groups * 2 + 1);
    const [bits, at] = out.reserve(groups);
    for (let i = 0; i < n; i++)
      if (defined[i]) bits[at + (i >> 3)] = (bits[at + (i >> 3)] as number) | (1 << (i & 7));
  }
  out.setUInt32(lengthAt, out.size - lengthAt - 4);
}
