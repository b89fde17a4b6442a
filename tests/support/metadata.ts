import { Writer } from 'protobufjs/minimal';
import type { ActiveModel } from '../../lib/fleet/protocol';
import type { ModelMetadata } from '../../lib/model/metadata';

export const FASHION_LABELS = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

/** The metadata props the Python trainer writes, as strings. */
export function trainerProps(overrides: Record<string, string | undefined> = {}): Record<string, string> {
  const props: Record<string, string | undefined> = {
    'lifecycle.labels': JSON.stringify(FASHION_LABELS),
    'lifecycle.input': JSON.stringify({ name: 'input', layout: 'NCHW', channels: 1, height: 28, width: 28, colorspace: 'grayscale', dtype: 'float32' }),
    'lifecycle.normalization': JSON.stringify({ scale: 0.00392156862745098, mean: [0.286], std: [0.353] }),
    'lifecycle.output': JSON.stringify({ name: 'logits', kind: 'logits' }),
    'lifecycle.trainer': 'torch-cnn 1.0',
    ...overrides,
  };
  return Object.fromEntries(Object.entries(props).filter((e): e is [string, string] => e[1] !== undefined));
}

/**
 * Bytes shaped like an ONNX ModelProto: ir_version (1), a stand-in graph (7)
 * and metadata_props (14), enough for the metadata reader, not for onnxruntime.
 */
export function onnxBytesWithProps(props: Record<string, string>): Uint8Array {
  const w = Writer.create();
  w.uint32((1 << 3) | 0).int64(8);
  w.uint32((7 << 3) | 2).bytes(new Uint8Array(64).fill(7));
  for (const [key, value] of Object.entries(props)) {
    w.uint32((14 << 3) | 2).fork();
    w.uint32((1 << 3) | 2).string(key);
    w.uint32((2 << 3) | 2).string(value);
    w.ldelim();
  }
  return w.finish();
}

export function testMetadata(overrides: Partial<ModelMetadata> = {}): ModelMetadata {
  return {
    labels: FASHION_LABELS,
    input: { name: 'input', layout: 'NCHW', channels: 1, height: 28, width: 28, colorspace: 'grayscale', dtype: 'float32' },
    normalization: { scale: 1 / 255, mean: [0.286], std: [0.353] },
    output: { name: 'logits', kind: 'logits' },
    trainer: 'test',
    ...overrides,
  };
}

export function testActiveModel(version = '3'): ActiveModel {
  return { name: 'fashion-mnist-classifier', version, sha256: 'a'.repeat(64), artifactUri: 'mlflow-artifacts:/1/r/artifacts/model.onnx', metadata: testMetadata() };
}
