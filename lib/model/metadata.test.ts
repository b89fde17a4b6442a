import { onnxBytesWithProps, trainerProps } from '../../tests/support/metadata';
import { ModelMetadataError, readMetadataProps, readModelMetadata } from './metadata';

function expectCode(fn: () => unknown, code: string): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ModelMetadataError);
    expect((err as ModelMetadataError).code).toBe(code);
    return;
  }
  throw new Error('expected a ModelMetadataError');
}

describe('readMetadataProps', () => {
  it('reads every metadata_props entry and skips the other ModelProto fields', () => {
    const props = readMetadataProps(onnxBytesWithProps({ a: '1', 'lifecycle.trainer': 'x' }));
    expect(Object.fromEntries(props)).toEqual({ a: '1', 'lifecycle.trainer': 'x' });
  });

  it('rejects bytes that are not protobuf', () => {
    expectCode(() => readMetadataProps(Buffer.from([0x0a, 0xff, 0xff, 0xff])), 'MODEL_NOT_ONNX');
  });
});

describe('readModelMetadata', () => {
  it('parses the trainer contract into typed metadata', () => {
    const metadata = readModelMetadata(onnxBytesWithProps(trainerProps()));
    expect(metadata.labels).toHaveLength(10);
    expect(metadata.input).toMatchObject({ channels: 1, height: 28, width: 28, colorspace: 'grayscale' });
    expect(metadata.normalization.mean).toEqual([0.286]);
    expect(metadata.output.kind).toBe('logits');
    expect(metadata.golden).toBeUndefined();
  });

  it('parses an optional golden set', () => {
    const golden = { inputs: [new Array(784).fill(0)], expected_labels: ['Bag'], expected_probabilities: [0.9] };
    const metadata = readModelMetadata(onnxBytesWithProps(trainerProps({ 'lifecycle.golden': JSON.stringify(golden) })));
    expect(metadata.golden?.expected_labels).toEqual(['Bag']);
  });

  it('names missing keys', () => {
    expect(() => readModelMetadata(onnxBytesWithProps(trainerProps({ 'lifecycle.labels': undefined })))).toThrow(/lifecycle.labels/);
    expectCode(() => readModelMetadata(onnxBytesWithProps({})), 'MODEL_METADATA_MISSING');
  });

  it('rejects a value that is not JSON', () => {
    expectCode(() => readModelMetadata(onnxBytesWithProps(trainerProps({ 'lifecycle.input': '{oops' }))), 'MODEL_METADATA_INVALID');
  });

  it('rejects normalisation that does not match the channel count', () => {
    const props = trainerProps({ 'lifecycle.normalization': JSON.stringify({ scale: 1, mean: [0, 0, 0], std: [1, 1, 1] }) });
    expectCode(() => readModelMetadata(onnxBytesWithProps(props)), 'MODEL_METADATA_INVALID');
  });

  it('rejects golden inputs of the wrong size or with unknown labels', () => {
    const wrongSize = { inputs: [[1, 2, 3]], expected_labels: ['Bag'], expected_probabilities: [0.5] };
    expectCode(() => readModelMetadata(onnxBytesWithProps(trainerProps({ 'lifecycle.golden': JSON.stringify(wrongSize) }))), 'MODEL_METADATA_INVALID');
    const unknown = { inputs: [new Array(784).fill(0)], expected_labels: ['Hat'], expected_probabilities: [0.5] };
    expectCode(() => readModelMetadata(onnxBytesWithProps(trainerProps({ 'lifecycle.golden': JSON.stringify(unknown) }))), 'MODEL_METADATA_INVALID');
  });
});
