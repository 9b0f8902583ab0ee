// The small defects of issue 15: bzip2 decoded without a system binary, Swift's bulk XML escaped.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bunzip2, Bzip2Error } from '../src/object-store/bzip2.ts';
import { bulkResult } from '../src/object-store/bulk.ts';

// bz2.compress(b'Stratus & <bzip2> ' * 50 + bytes(range(256)) * 3, 9), by Python's bz2.
const FIXTURE = Buffer.from(
  'QlpoOTFBWSZTWTOE3X4AAUX/////////////////////////////////////////////wAGuAqEv/9VUjRphGRkxNNGjRiaaZMhppiaNGmRo00yZGAJiDBGBDRoGg0ZGgyaMmEZNMgBgTJo0NDCaYQYmIAYmmjTTCAaaJMABMAATAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAABJgAJgACYAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAADaqqDRoaBo0aA00A9TIAANNGmgNDTQ0xABkA0GnqaDQAGgAGjIANGTJgmBA00BoANGmmgAGQBoGgDG31+v5gBBMCYIQjBiGIgiiMYQwojiQYYw4kiUYgSxME0xJTyoFRKkVMaiqDfVRihIYISJ8JIq5WCslaK2T9CQwKCVwbBtK6V4r5YCwliLGWQfEJFmLOWgtJai1lsG4to3jShItxREJFvGocC4DiXEuRcy6F1LsORdy8F5HMvQ6F7L4X0dRpEkOt+HYdx4L+YAwJgjBmEMKYYw5iBihIehghIxJijFmMMaY4x4/ISMgZEyRkx8MoMiEhiOA+oSH0yyEhoKshIpiEh2KAIQyGXMwZkpyEh+KWZozZnDOmeM+aA0JojRmkNKP5pjTmoNSao1ZrDWmuIoizjEYcc5BGkcckjyQJEkjlHLJMlDmEqc0liXOcc86BDEOcIiCJIoiyMOGRpHEeSBIkkcQ4pxjjnIJM5JKHKOWd88BRlIUpTHhKc8RUFSVRVnjPIeU8xWFaVx5yvLAsT0HpPUes9h7T3HvPgWRZlofEtT5FsfM+hbn1Lg+xcl0XZeH3Pwfk/R+z+H9L0/xfH/F3JFOFCQM4Tdfg=',
  'base64',
);
const EXPECTED = Buffer.concat([
  Buffer.from('Stratus & <bzip2> '.repeat(50)),
  ...Array.from({ length: 3 }, () => Buffer.from(Array.from({ length: 256 }, (_, i) => i))),
]);

async function decode(chunks: Buffer[]): Promise<Buffer> {
  const out: Buffer[] = [];
  async function* src() {
    yield* chunks;
  }
  for await (const b of bunzip2(src())) out.push(b);
  return Buffer.concat(out);
}

describe('bzip2 decoder', () => {
  it('decodes a stream whole, byte by byte, and two concatenated streams', async () => {
    assert.deepEqual(await decode([FIXTURE]), EXPECTED);
    assert.deepEqual(await decode(Array.from(FIXTURE, (b) => Buffer.from([b]))), EXPECTED);
    assert.deepEqual(await decode([FIXTURE, FIXTURE]), Buffer.concat([EXPECTED, EXPECTED]));
  });
  it('refuses what is not bzip2, a truncated stream and a corrupted block', async () => {
    await assert.rejects(decode([Buffer.from('BZh9 not really bzip2')]), Bzip2Error);
    await assert.rejects(decode([Buffer.from('PK\x03\x04')]), /not bzip2 data/);
    await assert.rejects(decode([FIXTURE.subarray(0, FIXTURE.length - 20)]), /ends unexpectedly/);
    const bad = Buffer.from(FIXTURE);
    bad[14] = (bad[14]! ^ 0x01) & 0xff; // inside the block CRC
    await assert.rejects(decode([bad]), /integrity|bad bzip2/);
  });
});

describe('swift bulk results', () => {
  it('escapes names in the XML answer', () => {
    const r = bulkResult('application/xml', {
      'Number Deleted': 0,
      'Response Status': '400 Bad Request',
      Errors: [['/c/a&b<c>', '404 Not Found']],
    });
    assert.match(String(r.body), /<name>\/c\/a&amp;b&lt;c&gt;<\/name>/);
    assert.doesNotMatch(String(r.body), /a&b/);
  });
});
