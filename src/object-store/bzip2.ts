// A bzip2 decoder (Node has none), streamed block by block, so that extract-archive of a tar.bz2
// needs no system binary. The format as bzip2's own decompress.c reads it: stream header
// 'BZh1'..'BZh9'; blocks (48-bit magic 0x314159265359, CRC, origin pointer, symbol map, Huffman
// tables and selectors, MTF/RLE2 symbols), the inverse Burrows-Wheeler transform, the initial
// run-length decoding; the end-of-stream magic 0x177245385090 and the combined CRC.
// Concatenated streams are read one after another, as bzip2 -d does.

export class Bzip2Error extends Error {}

const NEED_MORE = Symbol('need more input');
const BLOCK_MAGIC_HI = 0x314159;
const BLOCK_MAGIC_LO = 0x265359;
const EOS_MAGIC_HI = 0x177245;
const EOS_MAGIC_LO = 0x385090;
const MAX_GROUPS = 6;
const GROUP_SIZE = 50;
const MAX_CODE_LEN = 20;

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 24;
    for (let k = 0; k < 8; k++) c = c & 0x80000000 ? (c << 1) ^ 0x04c11db7 : c << 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/** Reads bits, most significant first, from a buffer that may still grow. */
class BitReader {
  /** Position in bits. */
  pos = 0;
  constructor(
    public buf: Buffer,
    public ended: boolean,
  ) {}
  bits(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++) {
      const byte = this.pos >>> 3;
      if (byte >= this.buf.length) {
        if (this.ended) throw new Bzip2Error('bzip2 data ends unexpectedly');
        throw NEED_MORE;
      }
      v = (v << 1) | ((this.buf[byte]! >>> (7 - (this.pos & 7))) & 1);
      this.pos++;
    }
    return v >>> 0;
  }
  bit(): number {
    return this.bits(1);
  }
}

interface Table {
  limit: Int32Array;
  base: Int32Array;
  perm: Int32Array;
  minLen: number;
  maxLen: number;
}

function huffmanTable(lengths: Uint8Array, alphaSize: number): Table {
  let minLen = 32,
    maxLen = 0;
  for (let i = 0; i < alphaSize; i++) {
    minLen = Math.min(minLen, lengths[i]!);
    maxLen = Math.max(maxLen, lengths[i]!);
  }
  const perm = new Int32Array(alphaSize);
  let pp = 0;
  for (let len = minLen; len <= maxLen; len++)
    for (let j = 0; j < alphaSize; j++) if (lengths[j] === len) perm[pp++] = j;
  const base = new Int32Array(MAX_CODE_LEN + 2);
  for (let i = 0; i < alphaSize; i++) base[lengths[i]! + 1]!++;
  for (let i = 1; i < base.length; i++) base[i]! += base[i - 1]!;
  const limit = new Int32Array(MAX_CODE_LEN + 1).fill(-1);
  let vec = 0;
  for (let i = minLen; i <= maxLen; i++) {
    vec += base[i + 1]! - base[i]!;
    limit[i] = vec - 1;
    vec <<= 1;
  }
  for (let i = minLen + 1; i <= maxLen; i++) base[i] = ((limit[i - 1]! + 1) << 1) - base[i]!;
  return { limit, base, perm, minLen, maxLen };
}

/** One block's output bytes (after the inverse BWT and the run-length decoding) and their checked CRC. */
function readBlock(r: BitReader, blockSizeMax: number): { data: Buffer; crc: number } {
  const storedCrc = r.bits(32);
  if (r.bit()) throw new Bzip2Error('randomised bzip2 blocks (bzip2 0.9.0) are not supported');
  const origPtr = r.bits(24);
  // The symbol map: which byte values occur.
  const used16 = r.bits(16);
  const seqToUnseq: number[] = [];
  for (let i = 0; i < 16; i++)
    if (used16 & (0x8000 >>> i)) {
      const bits = r.bits(16);
      for (let j = 0; j < 16; j++) if (bits & (0x8000 >>> j)) seqToUnseq.push(i * 16 + j);
    }
  if (!seqToUnseq.length) throw new Bzip2Error('bad bzip2 block: no symbols');
  const alphaSize = seqToUnseq.length + 2;
  const nGroups = r.bits(3);
  if (nGroups < 2 || nGroups > MAX_GROUPS) throw new Bzip2Error('bad bzip2 block: Huffman group count');
  const nSelectors = r.bits(15);
  if (nSelectors < 1) throw new Bzip2Error('bad bzip2 block: no selectors');
  const mtfGroups = Array.from({ length: nGroups }, (_, i) => i);
  const selectors = new Uint8Array(nSelectors);
  for (let i = 0; i < nSelectors; i++) {
    let j = 0;
    while (r.bit()) if (++j >= nGroups) throw new Bzip2Error('bad bzip2 block: selector');
    const v = mtfGroups[j]!;
    mtfGroups.splice(j, 1);
    mtfGroups.unshift(v);
    selectors[i] = v;
  }
  const tables: Table[] = [];
  for (let t = 0; t < nGroups; t++) {
    const lengths = new Uint8Array(alphaSize);
    let curr = r.bits(5);
    for (let i = 0; i < alphaSize; i++) {
      for (;;) {
        if (curr < 1 || curr > MAX_CODE_LEN) throw new Bzip2Error('bad bzip2 block: code length');
        if (!r.bit()) break;
        curr += r.bit() ? -1 : 1;
      }
      lengths[i] = curr;
    }
    tables.push(huffmanTable(lengths, alphaSize));
  }
  // The MTF/RLE2 symbols into the block's bytes.
  const eob = alphaSize - 1;
  const mtf = seqToUnseq.slice();
  const ll = new Uint8Array(blockSizeMax);
  const counts = new Int32Array(256);
  let n = 0;
  let groupLeft = 0;
  let groupNo = -1;
  let table = tables[0]!;
  let runLength = 0;
  let runWeight = 1;
  for (;;) {
    if (groupLeft === 0) {
      groupNo++;
      if (groupNo >= nSelectors) throw new Bzip2Error('bad bzip2 block: selectors exhausted');
      table = tables[selectors[groupNo]!]!;
      groupLeft = GROUP_SIZE;
    }
    groupLeft--;
    let len = table.minLen;
    let code = r.bits(len);
    while (len <= table.maxLen && code > table.limit[len]!) {
      len++;
      code = (code << 1) | r.bit();
    }
    if (len > table.maxLen) throw new Bzip2Error('bad bzip2 block: Huffman code');
    const sym = table.perm[code - table.base[len]!]!;
    if (sym <= 1) {
      // RUNA/RUNB: a bijective base-2 run length of the front symbol.
      runLength += (sym + 1) * runWeight;
      runWeight <<= 1;
      if (runLength > blockSizeMax) throw new Bzip2Error('bad bzip2 block: run too long');
      continue;
    }
    if (runLength) {
      if (n + runLength > blockSizeMax) throw new Bzip2Error('bad bzip2 block: block too long');
      const b = mtf[0]!;
      ll.fill(b, n, n + runLength);
      counts[b]! += runLength;
      n += runLength;
      runLength = 0;
      runWeight = 1;
    }
    if (sym === eob) break;
    const idx = sym - 1;
    const b = mtf[idx]!;
    mtf.splice(idx, 1);
    mtf.unshift(b);
    if (n >= blockSizeMax) throw new Bzip2Error('bad bzip2 block: block too long');
    ll[n++] = b;
    counts[b]!++;
  }
  if (origPtr >= n) throw new Bzip2Error('bad bzip2 block: origin pointer');
  // Inverse BWT.
  const cf = new Int32Array(256);
  for (let i = 1; i < 256; i++) cf[i] = cf[i - 1]! + counts[i - 1]!;
  const tt = new Int32Array(n);
  for (let i = 0; i < n; i++) tt[cf[ll[i]!]!++] = i;
  // Inverse initial RLE (4 equal bytes then a count) while walking the BWT's vector.
  const chunks: Buffer[] = [];
  let out = Buffer.allocUnsafe(Math.max(n * 2, 64));
  let o = 0;
  const put = (b: number) => {
    if (o === out.length) {
      chunks.push(out);
      out = Buffer.allocUnsafe(out.length);
      o = 0;
    }
    out[o++] = b;
  };
  let pos = tt[origPtr]!;
  let last = -1;
  let same = 0;
  let crc = 0xffffffff;
  for (let k = 0; k < n; k++) {
    const b = ll[pos]!;
    pos = tt[pos]!;
    if (same === 4) {
      for (let i = 0; i < b; i++) {
        put(last);
        crc = ((crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ last) & 0xff]!) >>> 0;
      }
      same = 0;
      last = -1;
      continue;
    }
    same = b === last ? same + 1 : 1;
    last = b;
    put(b);
    crc = ((crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ b) & 0xff]!) >>> 0;
  }
  crc = ~crc >>> 0;
  if (crc !== storedCrc) throw new Bzip2Error('bzip2 data integrity error (block CRC)');
  chunks.push(out.subarray(0, o));
  return { data: Buffer.concat(chunks), crc };
}

/** The largest compressed size of one block we wait for before decoding it (900k blocks, worst case). */
const BLOCK_INPUT_MAX = 1_100_000;

/** Decompresses a bzip2 stream (or several concatenated), yielding each block's bytes as it is decoded. */
export async function* bunzip2(source: AsyncIterable<Buffer | Uint8Array | string>): AsyncGenerator<Buffer> {
  const it = source[Symbol.asyncIterator]();
  const r = new BitReader(Buffer.alloc(0), false);
  const more = async () => {
    const next = await it.next();
    if (next.done) r.ended = true;
    else r.buf = Buffer.concat([r.buf.subarray(r.pos >>> 3), Buffer.from(next.value)]);
    if (!next.done) r.pos &= 7;
  };
  /** Runs `step` from the current position, reading more input and retrying when it runs short. */
  async function attempt<T>(step: () => T, wantBytes = 0): Promise<T> {
    for (;;) {
      while (!r.ended && r.buf.length - (r.pos >>> 3) < wantBytes) await more();
      const start = r.pos;
      try {
        return step();
      } catch (e) {
        if (e !== NEED_MORE) throw e;
        // Back to where the step began (more() re-bases the buffer from there).
        r.pos = start;
        await more();
        if (r.ended && r.buf.length * 8 <= r.pos) throw new Bzip2Error('bzip2 data ends unexpectedly');
      }
    }
  }
  let streams = 0;
  for (;;) {
    // A stream header, or the end of the input after at least one stream.
    const header = await attempt(() => {
      if (r.ended && r.pos >>> 3 >= r.buf.length) return -1;
      return r.bits(32);
    }, 4).catch((e: unknown) => {
      if (streams && e instanceof Bzip2Error) return -1;
      throw e;
    });
    if (header === -1) {
      if (!streams) throw new Bzip2Error('not bzip2 data (empty)');
      return;
    }
    const level = (header & 0xff) - 0x30;
    if (header >>> 8 !== 0x425a68 || level < 1 || level > 9) {
      if (streams) return; // trailing garbage after a complete stream, as bzip2 -d tolerates
      throw new Bzip2Error('not bzip2 data (bad magic)');
    }
    streams++;
    const blockSizeMax = level * 100_000;
    let combined = 0;
    for (;;) {
      const magic = await attempt(() => [r.bits(24), r.bits(24)] as const, 6);
      if (magic[0] === EOS_MAGIC_HI && magic[1] === EOS_MAGIC_LO) {
        const stored = await attempt(() => r.bits(32), 4);
        if (stored !== combined) throw new Bzip2Error('bzip2 data integrity error (stream CRC)');
        r.pos = (r.pos + 7) & ~7;
        break;
      }
      if (magic[0] !== BLOCK_MAGIC_HI || magic[1] !== BLOCK_MAGIC_LO) throw new Bzip2Error('bad bzip2 block magic');
      const block = await attempt(() => {
        const start = r.pos;
        try {
          return readBlock(r, blockSizeMax);
        } catch (e) {
          r.pos = start;
          throw e;
        }
      }, BLOCK_INPUT_MAX);
      combined = (((combined << 1) | (combined >>> 31)) ^ block.crc) >>> 0;
      if (block.data.length) yield block.data;
    }
  }
}
