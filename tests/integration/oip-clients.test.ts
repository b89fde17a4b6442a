import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { heldOutSamples, type Sample } from '../../bench/samples';
import { runCommand } from '../../lib/process/run';
import { useServingStack } from '../support/serving-stack';
import { ROOT } from './support/env';

const CLIENT_PYTHON = join(ROOT, '.venv-test/bin/python');
const IMAGES = 100;

interface ClientRun {
  labels: string[];
  probabilities: number[][];
}
interface ClientReport {
  live: boolean;
  ready: boolean;
  model_ready: boolean;
  version_ready: boolean;
  other_version_ready: boolean;
  server: { name: string; extensions: string[] };
  metadata: { name: string; versions: string[]; platform: string; inputs: Array<{ name: string; datatype: string; shape: number[] }>; outputs: Array<{ name: string; shape: number[] }>; parameters: { labels: string } };
  other_version_error: string | null;
  'image-json': ClientRun;
  'image-binary': ClientRun;
  pixels: ClientRun;
}

/**
 * The real Open Inference Protocol clients from PyPI, tritonclient[http] and the KServe SDK's REST client
 * (in .venv-test: `make test` installs them), against a real API and inference worker (real Redis, real
 * onnxruntime): readiness, metadata, and inference on 100 held-out Fashion-MNIST test images as BYTES
 * images in JSON, BYTES images with the binary tensor data extension, and UINT8 pixels, each giving the
 * same top-1 as POST /predict.
 */
describe('Open Inference Protocol through tritonclient[http] and the KServe SDK', () => {
  const fixture = useServingStack('oip-tritonclient');
  let dir: string;
  let samples: Sample[];

  beforeAll(async () => {
    if (!existsSync(CLIENT_PYTHON)) throw new Error(`${CLIENT_PYTHON} is missing: run \`bash infra/local/setup.sh test-venv\` (make test does)`);
    dir = await mkdtemp(join(tmpdir(), 'lifecycle-oip-'));
    samples = await heldOutSamples(IMAGES);
    await Promise.all(
      samples.map(async (s, i) => {
        const name = String(i).padStart(3, '0');
        await writeFile(join(dir, `${name}.png`), s.png);
        // The same image as raw HWC pixels at the model's geometry (28x28, one channel).
        const { data, info } = await sharp(s.png).toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
        if (info.channels !== 1 || info.width !== 28 || info.height !== 28) throw new Error(`unexpected test image geometry ${JSON.stringify(info)}`);
        await writeFile(join(dir, `${name}.raw`), data);
      }),
    );
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('reports readiness and metadata, and classifies like POST /predict with JSON, binary and pixel requests', async () => {
    const { stack } = fixture;
    await stack.startWorker();
    await stack.startApi();
    await stack.waitForApiReady();

    const viaPredict: string[] = [];
    for (const s of samples) {
      const res = await stack.predict(s.png);
      expect(res.status).toBe(200);
      viaPredict.push((res.body.predictions as Array<{ label: string }>)[0]!.label);
    }

    // A comparison that could fail: the test model tells the held-out images apart into several classes.
    expect(new Set(viaPredict).size).toBeGreaterThan(2);

    const { stdout } = await runCommand(CLIENT_PYTHON, [join(ROOT, 'tests/support/oip_client.py'), '--url', stack.baseUrl.replace('http://', ''), '--model', 'test-classifier', '--images', dir]);
    const report = JSON.parse(stdout.trim().split('\n').pop()!) as ClientReport;

    expect([report.live, report.ready, report.model_ready, report.version_ready, report.other_version_ready]).toEqual([true, true, true, true, false]);
    expect(report.server).toMatchObject({ name: 'lifecycle', extensions: ['binary_tensor_data'] });
    expect(report.metadata).toMatchObject({ name: 'test-classifier', versions: ['1'], platform: 'onnxruntime' });
    expect(report.metadata.inputs.map((i) => [i.name, i.datatype, i.shape])).toEqual([
      ['image', 'BYTES', [-1]],
      ['pixels', 'UINT8', [-1, 28, 28, 1]],
    ]);
    const labels = JSON.parse(report.metadata.parameters.labels) as string[];
    expect(labels).toHaveLength(10);
    expect(report.other_version_error).toMatch(/not served: the fleet serves version 1/);

    for (const kind of ['image-json', 'image-binary', 'pixels'] as const) {
      const run = report[kind];
      expect(run.labels).toEqual(viaPredict);
      // The probabilities are every class's, in label order: the label is their argmax, and they sum to 1.
      run.probabilities.forEach((p, i) => {
        expect(p).toHaveLength(10);
        expect(labels[p.indexOf(Math.max(...p))]).toBe(run.labels[i]);
        expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      });
    }
    // The same image gives the same probabilities whichever way it was sent.
    expect(report.pixels.probabilities[7]![3]).toBeCloseTo(report['image-json'].probabilities[7]![3]!, 6);
    expect(report['image-binary'].probabilities).toEqual(report['image-json'].probabilities);

    // The KServe Python SDK's REST client: readiness, and the same images with the binary extension.
    const kserve = JSON.parse(
      (await runCommand(CLIENT_PYTHON, [join(ROOT, 'tests/support/oip_kserve_client.py'), '--url', stack.baseUrl, '--model', 'test-classifier', '--images', dir])).stdout.trim().split('\n').pop()!,
    ) as ClientRun & { live: boolean; ready: boolean; model_ready: boolean };
    expect([kserve.live, kserve.ready, kserve.model_ready]).toEqual([true, true, true]);
    expect(kserve.labels).toEqual(viaPredict);
    expect(kserve.probabilities).toEqual(report['image-binary'].probabilities);
  }, 180_000);
});
