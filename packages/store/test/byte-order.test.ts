import assert from 'node:assert/strict';
import { test } from 'node:test';
import { byteOrder } from '../src/manifest-index.js';

const bytes = (a: string, b: string): number => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

test('byteOrder orders as UTF-8 bytes do (the Rust BTreeSet order), surrogate pairs included', () => {
  const alphabet = ['a', 'b', 'Z', '-', '_', '0', 'é', '\u00ff', '\u0800', '\uffee', '\ue000', '😀', '𝄞', '\ud7ff'];
  let seed = 7;
  const rnd = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const word = (): string => Array.from({ length: Math.floor(rnd() * 5) }, () => alphabet[Math.floor(rnd() * alphabet.length)]!).join('');
  for (let i = 0; i < 5000; i++) {
    const a = word();
    const b = rnd() < 0.3 ? a + word() : word();
    assert.equal(Math.sign(byteOrder(a, b)), Math.sign(bytes(a, b)), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
  }
  assert.deepEqual(['b', '😀', 'a', '\uffee', 'aa'].sort(byteOrder), ['a', 'aa', 'b', '\uffee', '😀']);
});
