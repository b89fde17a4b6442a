import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ModelRef } from '../../lib/fleet/protocol';
import { sha256Hex } from '../../lib/model/sha256';

const ROOT = resolve(__dirname, '../..');
const PYTHON = join(ROOT, '.venv/bin/python');

export interface TestModel {
  path: string;
  bytes: Buffer;
  sha256: string;
}

/**
 * A real ONNX classifier with Lifecycle metadata, built by make_test_model.py
 * (numpy + onnx from the project venv). Different seeds give different files.
 * golden: 'ok' records correct golden entries, 'bad' wrong ones, 'none' none.
 */
export function makeTestModel(dir: string, opts: { seed?: number; golden?: 'ok' | 'bad' | 'none' } = {}): TestModel {
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: create the project venv (make up / infra/python/setup-venv.sh)`);
  const seed = opts.seed ?? 1;
  const golden = opts.golden ?? 'ok';
  const path = join(dir, `test-model-${seed}-${golden}.onnx`);
  execFileSync(PYTHON, [join(__dirname, 'make_test_model.py'), path, '--seed', String(seed), '--golden', golden], { stdio: 'pipe' });
  const bytes = readFileSync(path);
  return { path, bytes, sha256: sha256Hex(bytes) };
}

/** A registry reference to a test model. */
export function refFor(model: TestModel, version: string, name = 'test-classifier'): ModelRef {
  return { name, version, sha256: model.sha256, artifactUri: `test-artifacts:/${version}/${model.sha256}.onnx` };
}
