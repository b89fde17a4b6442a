import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { readModelMetadata, type ModelMetadata } from '../../lib/model/metadata';
import { softmax } from '../../lib/model/postprocess';
import { pixelsToTensor } from '../../lib/model/tensor';
import { RGB_CLASSES, writeShapesDataset } from './support/trainer-datasets';
import { eventsOf, expectSuccess, runTrainer, type TrainerRun } from './support/trainer-process';

const SIZE = 32;

/**
 * An RGB 32x32 model from the real trainer, checked the way serving uses it: metadata read by
 * lib/model/metadata.ts, pixels converted by lib/model/tensor.ts (HWC uint8 -> normalised CHW),
 * inference by onnxruntime-node. The classes differ by colour (red-up vs blue-up) or orientation
 * (red-up vs red-left), so a channel-order or layout mismatch between trainer and serving fails.
 */
describe('trainer: RGB input geometry and per-channel normalisation', () => {
  let root: string;
  let data: string;
  let out: string;
  let run: TrainerRun;
  let metadata: ModelMetadata;
  let session: ort.InferenceSession;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'lifecycle-trainer-rgb-'));
    data = await writeShapesDataset(join(root, 'data'), { classes: RGB_CLASSES, channels: 3, size: SIZE, perClassTrain: 80, perClassTest: 15 });
    out = join(root, 'out');
    run = expectSuccess(
      await runTrainer({ data, out, params: { epochs: 3, channels: 3, image_size: SIZE, batch_size: 16, num_threads: 1, seed: 3 } }),
    );
    const bytes = await readFile(join(out, 'model.onnx'));
    metadata = readModelMetadata(bytes);
    session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  });

  afterAll(async () => {
    await session?.release();
    await rm(root, { recursive: true, force: true });
  });

  it('records a 3-channel RGB 32x32 input and one mean/std per channel in the ONNX metadata, run_info.json and the start event', async () => {
    expect(metadata.input).toEqual({ name: 'input', layout: 'NCHW', channels: 3, height: SIZE, width: SIZE, colorspace: 'rgb', dtype: 'float32' });
    expect(metadata.labels).toEqual(RGB_CLASSES.map((c) => c.label));
    const { scale, mean, std } = metadata.normalization;
    expect(scale).toBe(1 / 255);
    expect(mean).toHaveLength(3);
    expect(std).toHaveLength(3);
    // Red and blue shapes: the channel means really are per channel.
    expect(new Set(mean).size).toBe(3);
    const runInfo = JSON.parse(await readFile(join(out, 'run_info.json'), 'utf8')) as Record<string, unknown>;
    expect(runInfo.normalization).toEqual(metadata.normalization);
    expect(runInfo.input).toEqual(metadata.input);
    const environment = runInfo.environment as Record<string, unknown>;
    expect(environment.torch).toMatch(/^2\.13\.0/);
    expect(Object.keys(environment)).toEqual(expect.arrayContaining(['python', 'torch', 'onnx', 'numpy', 'pillow', 'platform']));
    expect(eventsOf(run, 'start')[0]).toMatchObject({ normalization: metadata.normalization, input: metadata.input, params: { channels: 3, image_size: SIZE } });
    expect(session.inputNames).toEqual(['input']);
  });

  it('onnxruntime-node on the golden inputs, through pixelsToTensor, reproduces the golden labels and probabilities', async () => {
    const golden = metadata.golden!;
    expect(golden.inputs.length).toBeGreaterThanOrEqual(3);
    golden.inputs.forEach((pixels) => expect(pixels).toHaveLength(SIZE * SIZE * 3));
    const probs = await classify(golden.inputs.map((p) => pixelsToTensor(p, metadata.input, metadata.normalization)));
    expect(probs.map(argmaxLabel)).toEqual(golden.expected_labels);
    probs.forEach((p, i) => expect(Math.max(...p)).toBeCloseTo(golden.expected_probabilities[i]!, 4));
  });

  it('decoding the test PNGs with sharp (HWC RGB) and pixelsToTensor gives the accuracy the trainer measured', async () => {
    const { pixels, labels } = await readTestSplit();
    const predicted = (await classify(pixels.map((p) => pixelsToTensor(p, metadata.input, metadata.normalization)))).map(argmaxLabel);
    const accuracy = predicted.filter((label, i) => label === labels[i]).length / labels.length;
    const metrics = JSON.parse(await readFile(join(out, 'metrics.json'), 'utf8')) as { test_accuracy: number; per_class_test_accuracy: Record<string, number> };
    expect(accuracy).toBeCloseTo(metrics.test_accuracy, 6);
    expect(accuracy).toBeGreaterThanOrEqual(0.9);
    expect(Object.keys(metrics.per_class_test_accuracy)).toEqual(RGB_CLASSES.map((c) => c.label));
  });

  it('writes drift_reference.json: the test split\'s input features as serving decodes it, and the model\'s predicted classes on it', async () => {
    const { pixels } = await readTestSplit();
    const predicted = (await classify(pixels.map((p) => pixelsToTensor(p, metadata.input, metadata.normalization)))).map(argmaxLabel);
    const reference = JSON.parse(await readFile(join(out, 'drift_reference.json'), 'utf8')) as {
      n: number;
      summary: Record<string, { mean: number }>;
      predicted_class_distribution: Record<string, number>;
      sample: { rows: number; brightness: number[]; ink: number[]; predicted: string[] };
    };
    // Computed here independently from the decoded PNGs (HWC uint8, what the payload log keeps for live requests).
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const brightness = pixels.map((p) => mean(Array.from(p)) / 255);
    const ink = pixels.map((p) => Array.from(p).filter((v) => v > 127).length / p.length);
    expect(reference.n).toBe(pixels.length);
    expect(reference.sample.rows).toBe(pixels.length); // a split this small is kept whole
    expect(reference.summary.brightness!.mean).toBeCloseTo(mean(brightness), 5);
    reference.sample.brightness.forEach((b, i) => expect(b).toBeCloseTo(brightness[i]!, 5));
    reference.sample.ink.forEach((v, i) => expect(v).toBeCloseTo(ink[i]!, 5));
    expect(reference.sample.predicted).toEqual(predicted);
    for (const label of metadata.labels) {
      expect(reference.predicted_class_distribution[label]).toBeCloseTo(predicted.filter((l) => l === label).length / predicted.length, 5);
    }
  });

  it('depends on channel order: the red-up test images with red and blue swapped are classified blue-up', async () => {
    const { pixels, labels } = await readTestSplit();
    const swapped = pixels
      .filter((_, i) => labels[i] === 'red-up')
      .map((p) => {
        const q = Uint8Array.from(p);
        for (let i = 0; i < q.length; i += 3) [q[i], q[i + 2]] = [p[i + 2]!, p[i]!];
        return pixelsToTensor(q, metadata.input, metadata.normalization);
      });
    const predicted = (await classify(swapped)).map(argmaxLabel);
    expect(predicted.filter((l) => l === 'blue-up').length / predicted.length).toBeGreaterThanOrEqual(0.8);
  });

  async function classify(examples: Float32Array[]): Promise<Float64Array[]> {
    const plane = 3 * SIZE * SIZE;
    const batch = new Float32Array(examples.length * plane);
    examples.forEach((e, i) => batch.set(e, i * plane));
    const outputs = await session.run({ input: new ort.Tensor('float32', batch, [examples.length, 3, SIZE, SIZE]) });
    const logits = outputs.logits!.data as Float32Array;
    const classes = metadata.labels.length;
    return examples.map((_, i) => softmax(logits.subarray(i * classes, (i + 1) * classes)));
  }

  function argmaxLabel(p: Float64Array): string {
    return metadata.labels[p.indexOf(Math.max(...p))]!;
  }

  async function readTestSplit(): Promise<{ pixels: Uint8Array[]; labels: string[] }> {
    const pixels: Uint8Array[] = [];
    const labels: string[] = [];
    for (const [index, cls] of RGB_CLASSES.entries()) {
      const folder = join(data, 'test', String(index).padStart(2, '0'));
      for (const file of (await readdir(folder)).sort()) {
        const { data: raw, info } = await sharp(join(folder, file)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
        expect([info.width, info.height, info.channels]).toEqual([SIZE, SIZE, 3]);
        pixels.push(new Uint8Array(raw));
        labels.push(cls.label);
      }
    }
    return { pixels, labels };
  }
});
