import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256Hex } from '../../lib/model/sha256';
import { fetchVerifiedModel } from './model-cache';

const bytes = Buffer.from('pretend this is an onnx file');
const ref = { name: 'm', version: '1', sha256: sha256Hex(bytes), artifactUri: 'mlflow-artifacts:/m.onnx' };

describe('fetchVerifiedModel', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'model-cache-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('downloads, verifies and caches by sha256; the next load needs no download', async () => {
    const download = jest.fn(() => Promise.resolve(bytes));
    expect(await fetchVerifiedModel(ref, download, dir)).toEqual(bytes);
    expect(readFileSync(join(dir, `${ref.sha256}.onnx`))).toEqual(bytes);
    expect(await fetchVerifiedModel(ref, download, dir)).toEqual(bytes);
    expect(download).toHaveBeenCalledTimes(1);
  });

  it('refuses bytes whose sha256 differs from the registry and caches nothing', async () => {
    const load = fetchVerifiedModel({ ...ref, sha256: 'b'.repeat(64) }, () => Promise.resolve(bytes), dir);
    await expect(load).rejects.toMatchObject({ code: 'MODEL_CHECKSUM_MISMATCH' });
    expect(() => readFileSync(join(dir, `${'b'.repeat(64)}.onnx`))).toThrow();
  });

  it('replaces a corrupted cache entry instead of serving it', async () => {
    writeFileSync(join(dir, `${ref.sha256}.onnx`), 'garbage');
    const download = jest.fn(() => Promise.resolve(bytes));
    expect(await fetchVerifiedModel(ref, download, dir)).toEqual(bytes);
    expect(download).toHaveBeenCalledTimes(1);
  });

  it('reports a failed download with a stable code', async () => {
    await expect(fetchVerifiedModel(ref, () => Promise.reject(new Error('503')), dir)).rejects.toMatchObject({ code: 'MODEL_DOWNLOAD_FAILED' });
  });
});
