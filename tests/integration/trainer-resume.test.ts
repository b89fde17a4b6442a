import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GRAY_CLASSES, writeShapesDataset } from './support/trainer-datasets';
import { runCommand } from '../../lib/process/run';
import { eventsOf, expectSuccess, PYTHON, runTrainer, type TrainerRun } from './support/trainer-process';

/**
 * Checkpoint/resume of the real trainer (trainer/train.py) on a tiny synthetic dataset: a run killed
 * with SIGKILL mid-epoch and resumed from its last checkpoint ends exactly where an uninterrupted run
 * ends; a checkpoint that does not fit the data or params is refused with exit code 2.
 */
describe('trainer checkpoints and --resume', () => {
  let root: string;
  let data: string;
  let reference: TrainerRun;
  const refOut = () => join(root, 'reference');
  // 32x32 also runs the adaptive-pooling path; augment draws from the checkpointed generator.
  const params = { epochs: 3, batch_size: 8, num_threads: 1, progress_every: 1, augment: true, seed: 7, image_size: 32 };

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'lifecycle-trainer-resume-'));
    data = await writeShapesDataset(join(root, 'data'), { classes: GRAY_CLASSES, channels: 1, size: 32, perClassTrain: 120, perClassTest: 10 });
    reference = expectSuccess(await runTrainer({ data, out: refOut(), params }));
  });

  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('after a SIGKILL mid-epoch, --resume from the last checkpoint gives the same model and metrics as an uninterrupted run', async () => {
    const out = join(root, 'killed');
    const killed = await runTrainer({
      data,
      out,
      params,
      onEvent: (event, kill) => {
        if (event.event === 'progress' && event.epoch === 2) kill();
      },
    });
    expect(killed.signal).toBe('SIGKILL');
    const [checkpoint, ...more] = eventsOf(killed, 'checkpoint');
    expect(more).toHaveLength(0);
    expect(checkpoint).toMatchObject({ epoch: 1, epochs: 3, path: join(out, 'checkpoints/epoch-0001.pt') });
    expect(sha256(await readFile(checkpoint!.path as string))).toBe(checkpoint!.sha256);
    // Killed inside epoch 2: no epoch-2 checkpoint, no model.
    expect(await readdir(join(out, 'checkpoints'))).toEqual(['epoch-0001.pt']);
    expect(existsSync(join(out, 'model.onnx'))).toBe(false);

    const resumed = expectSuccess(await runTrainer({ data, out, params, resume: checkpoint!.path as string }));
    expect(eventsOf(resumed, 'resume')).toEqual([expect.objectContaining({ from_epoch: 1 })]);
    expect(eventsOf(resumed, 'epoch').map((e) => e.epoch)).toEqual([2, 3]);
    expect(eventsOf(resumed, 'checkpoint').map((e) => e.epoch)).toEqual([2, 3]);

    const [refModel, model] = await Promise.all([readFile(join(refOut(), 'model.onnx')), readFile(join(out, 'model.onnx'))]);
    expect(sha256(model)).toBe(sha256(refModel));
    expect(withoutTimings(await readJson(join(out, 'metrics.json')))).toEqual(withoutTimings(await readJson(join(refOut(), 'metrics.json'))));
    expect(withoutTimings(await readJson(join(out, 'history.json')))).toEqual(withoutTimings(await readJson(join(refOut(), 'history.json'))));
    expect(eventsOf(reference, 'done')[0]!.test_accuracy).toBe(eventsOf(resumed, 'done')[0]!.test_accuracy);
  });

  it('keeps only the two newest checkpoints and reports each with its sha256', async () => {
    const events = eventsOf(reference, 'checkpoint');
    expect(events.map((e) => e.epoch)).toEqual([1, 2, 3]);
    expect(await readdir(join(refOut(), 'checkpoints'))).toEqual(['epoch-0002.pt', 'epoch-0003.pt']);
    const last = events[2]!;
    expect(sha256(await readFile(last.path as string))).toBe(last.sha256);
  });

  it('refuses a checkpoint made with other params: exit 2 naming the param', async () => {
    const run = await runTrainer({ data, out: join(root, 'bad-params'), params: { ...params, learning_rate: 0.01 }, resume: lastCheckpoint() });
    expect(run.code).toBe(2);
    expect(lastLine(run)).toMatch(/^error: cannot resume from .*epoch-0003\.pt: param learning_rate is 0\.01, checkpoint has 0\.004$/);
  });

  it('refuses a checkpoint made on a dataset with other labels: exit 2', async () => {
    const other = await writeShapesDataset(join(root, 'relabelled'), {
      classes: GRAY_CLASSES,
      channels: 1,
      size: 32,
      perClassTrain: 120,
      perClassTest: 10,
      labels: ['triangle-up', 'triangle-left', 'box'],
    });
    const run = await runTrainer({ data: other, out: join(root, 'bad-labels'), params, resume: lastCheckpoint() });
    expect(run.code).toBe(2);
    expect(lastLine(run)).toMatch(/^error: cannot resume from .*: labels are \['triangle-up', 'triangle-left', 'box'\], checkpoint has \['up', 'left', 'square'\]$/);
  });

  it('refuses a checkpoint made on other images with the same labels: exit 2', async () => {
    const other = await writeShapesDataset(join(root, 'other-images'), { classes: GRAY_CLASSES, channels: 1, size: 32, perClassTrain: 120, perClassTest: 10, seed: 2 });
    const run = await runTrainer({ data: other, out: join(root, 'bad-images'), params, resume: lastCheckpoint() });
    expect(run.code).toBe(2);
    expect(lastLine(run)).toMatch(/^error: cannot resume from .*: the dataset's images differ/);
  });

  it('refuses a checkpoint whose loading would execute code: exit 2, and the code never runs', async () => {
    const evil = join(root, 'evil.pt');
    const marker = join(root, 'code-ran');
    const make = `import os, torch\nclass Evil:\n    def __reduce__(self):\n        return (os.system, (${JSON.stringify(`touch ${marker}`)},))\ntorch.save({"format": "lifecycle-cnn-checkpoint", "x": Evil()}, ${JSON.stringify(evil)})\n`;
    await runCommand(PYTHON, ['-c', make]);
    const run = await runTrainer({ data, out: join(root, 'bad-file'), params, resume: evil });
    expect(run.code).toBe(2);
    expect(lastLine(run)).toMatch(/^error: cannot read checkpoint .*evil\.pt: not a file of tensors and plain data/);
    expect(existsSync(marker)).toBe(false);
  });

  function lastCheckpoint(): string {
    return eventsOf(reference, 'checkpoint').at(-1)!.path as string;
  }
});

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

async function readJson(path: string): Promise<unknown> {
  return JSON.parse(await readFile(path, 'utf8')) as unknown;
}

/** Drops wall-clock fields (training_seconds, elapsed_s), which differ between any two runs. */
function withoutTimings(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutTimings);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).filter(([k]) => !['training_seconds', 'elapsed_s'].includes(k)).map(([k, v]) => [k, withoutTimings(v)]));
  }
  return value;
}

function lastLine(run: TrainerRun): string {
  return run.stderr.trim().split('\n').at(-1) ?? '';
}
