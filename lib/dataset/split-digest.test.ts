import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { splitDigest, splitDigests } from './split-digest';

describe('splitDigest', () => {
  let root: string;
  const write = (rel: string, body: string) => {
    mkdirSync(join(root, rel, '..'), { recursive: true });
    writeFileSync(join(root, rel), body);
  };

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'split-digest-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('is the same for the same files wherever the dataset lives', async () => {
    write('a/test/00/1.png', 'x');
    write('a/test/01/2.png', 'y');
    write('b/test/01/2.png', 'y');
    write('b/test/00/1.png', 'x');
    expect(await splitDigest(join(root, 'a/test'))).toBe(await splitDigest(join(root, 'b/test')));
  });

  it('changes when a file content changes', async () => {
    write('a/test/00/1.png', 'x');
    write('b/test/00/1.png', 'z');
    expect(await splitDigest(join(root, 'a/test'))).not.toBe(await splitDigest(join(root, 'b/test')));
  });

  it('changes when a file moves to another class', async () => {
    write('a/test/00/1.png', 'x');
    write('b/test/01/1.png', 'x');
    expect(await splitDigest(join(root, 'a/test'))).not.toBe(await splitDigest(join(root, 'b/test')));
  });

  it('ignores dot-files and gives train and test their own digests', async () => {
    write('a/test/00/1.png', 'x');
    write('a/train/00/1.png', 'x');
    write('a/train/00/2.png', 'y');
    const before = await splitDigests(join(root, 'a'));
    write('a/test/.marker', 'ignored');
    const after = await splitDigests(join(root, 'a'));
    expect(after).toEqual(before);
    expect(before.train).not.toBe(before.test);
    expect(before.test).toMatch(/^[0-9a-f]{64}$/);
  });
});
