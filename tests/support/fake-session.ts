import * as ort from 'onnxruntime-node';
import type { SessionLike } from '../../lib/model/model-runner';

/**
 * An onnxruntime-shaped session without a model: logits[b][c] = c === argmaxClass(b) ? 5 : 0,
 * where the class of an example is its first value (rounded, mod classes). Records batch sizes.
 */
export class FakeSession implements SessionLike {
  readonly inputNames = ['input'];
  readonly outputNames = ['logits'];
  readonly batchSizes: number[] = [];
  released = false;

  constructor(
    private readonly classes = 10,
    private readonly exampleSize = 784,
  ) {}

  run(feeds: Record<string, ort.Tensor>): Promise<Record<string, ort.OnnxValue>> {
    const input = feeds.input!;
    const batch = input.dims[0]!;
    this.batchSizes.push(batch);
    const data = input.data as Float32Array;
    const logits = new Float32Array(batch * this.classes);
    for (let b = 0; b < batch; b++) {
      const cls = Math.abs(Math.round(data[b * this.exampleSize] ?? 0)) % this.classes;
      logits[b * this.classes + cls] = 5;
    }
    return Promise.resolve({ logits: new ort.Tensor('float32', logits, [batch, this.classes]) });
  }

  release(): Promise<void> {
    this.released = true;
    return Promise.resolve();
  }
}
