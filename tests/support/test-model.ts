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
export interface TestModelOptions {
  seed?: number;
  golden?: 'ok' | 'bad' | 'none';
  /** Normalisation recorded in the metadata (and applied by the golden computation). */
  mean?: number;
  std?: number;
  /** Input geometry: size x size, 1 (grayscale) or 3 (RGB) channels. */
  size?: number;
  channels?: 1 | 3;
  labels?: string[];
}

export function makeTestModel(dir: string, opts: TestModelOptions = {}): TestModel {
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: create the project venv (make up / infra/python/setup-venv.sh)`);
  const seed = opts.seed ?? 1;
  const golden = opts.golden ?? 'ok';
  const args = ['--seed', String(seed), '--golden', golden];
  if (opts.mean !== undefined) args.push('--mean', String(opts.mean));
  if (opts.std !== undefined) args.push('--std', String(opts.std));
  if (opts.size !== undefined) args.push('--size', String(opts.size));
  if (opts.channels !== undefined) args.push('--channels', String(opts.channels));
  if (opts.labels) args.push('--labels', opts.labels.join(','));
  const path = join(dir, `test-model-${args.join('_').replace(/[^\w.-]/g, '')}.onnx`);
  execFileSync(PYTHON, [join(__dirname, 'make_test_model.py'), path, ...args], { stdio: 'pipe' });
  const bytes = readFileSync(path);
  return { path, bytes, sha256: sha256Hex(bytes) };
}

/** A registry reference to a test model. */
export function refFor(model: TestModel, version: string, name = 'test-classifier'): ModelRef {
  return { name, version, sha256: model.sha256, artifactUri: `test-artifacts:/${version}/${model.sha256}.onnx` };
}
