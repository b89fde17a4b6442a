import * as ort from 'onnxruntime-node';
import { exampleShape, type ModelMetadata } from './metadata';
import { softmax, topK, type Prediction } from './postprocess';

/** The part of an onnxruntime session the runner uses; tests can wrap a real one (e.g. to slow it down). */
export interface SessionLike {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, ort.Tensor>): Promise<Record<string, ort.OnnxValue>>;
  release(): Promise<void>;
}

export interface SessionOptions {
  intraOpNumThreads: number;
}

export type CreateSession = (onnx: Uint8Array, opts: SessionOptions) => Promise<SessionLike>;

/** onnxruntime's options for a serving session. */
export const ortSessionOptions = (opts: SessionOptions): ort.InferenceSession.SessionOptions => ({
  intraOpNumThreads: opts.intraOpNumThreads,
  // Batches run one at a time per worker; parallelism comes from more workers.
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
});

/** A session on the calling thread: `run` blocks its event loop while it computes (see session-thread.ts). */
export const createOrtSession: CreateSession = (onnx, opts) => ort.InferenceSession.create(onnx, ortSessionOptions(opts));

export class ModelRunnerError extends Error {
  readonly code = 'MODEL_INCOMPATIBLE';
}

/** Runs batches of preprocessed examples through one ONNX session and turns the output into probabilities. */
export class ModelRunner {
  readonly exampleSize: number;
  private readonly shape: [number, number, number];

  constructor(
    private readonly session: SessionLike,
    readonly metadata: ModelMetadata,
  ) {
    this.shape = exampleShape(metadata.input);
    this.exampleSize = this.shape.reduce((a, b) => a * b, 1);
    if (!session.inputNames.includes(metadata.input.name)) {
      throw new ModelRunnerError(`model has no input ${metadata.input.name} (has ${session.inputNames.join(', ')})`);
    }
    if (!session.outputNames.includes(metadata.output.name)) {
      throw new ModelRunnerError(`model has no output ${metadata.output.name} (has ${session.outputNames.join(', ')})`);
    }
  }

  /** Class probabilities per example, in label order. */
  async probabilities(examples: Float32Array[]): Promise<Float64Array[]> {
    const batch = new Float32Array(examples.length * this.exampleSize);
    examples.forEach((example, i) => {
      if (example.length !== this.exampleSize) throw new ModelRunnerError(`example ${i} has ${example.length} values, expected ${this.exampleSize}`);
      batch.set(example, i * this.exampleSize);
    });
    const input = new ort.Tensor('float32', batch, [examples.length, ...this.shape]);
    const outputs = await this.session.run({ [this.metadata.input.name]: input });
    const output = outputs[this.metadata.output.name];
    const classes = this.metadata.labels.length;
    if (!(output instanceof ort.Tensor) || !(output.data instanceof Float32Array) || output.data.length !== examples.length * classes) {
      throw new ModelRunnerError(`output ${this.metadata.output.name} is not a float32 [${examples.length}, ${classes}] tensor`);
    }
    const data = output.data;
    return examples.map((_, i) => {
      const row = data.subarray(i * classes, (i + 1) * classes);
      return this.metadata.output.kind === 'logits' ? softmax(row) : Float64Array.from(row);
    });
  }

  /** The k most probable labels per example, descending. */
  async predict(examples: Float32Array[], k = 5): Promise<Prediction[][]> {
    const probs = await this.probabilities(examples);
    return probs.map((p) => topK(p, this.metadata.labels, k));
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
