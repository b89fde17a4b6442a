import { runCommand } from '../lib/process/run';
import { parseProgressLine, type TrainerEvent } from './trainer-progress';
import { keepBeating } from './failures';

export interface TrainerRun {
  python: string;
  script: string;
  dataDir: string;
  paramsFile: string;
  outDir: string;
  /** A checkpoint to continue from (`--resume`). */
  resume?: string;
}

export interface TrainerHooks {
  onEvent: (event: TrainerEvent) => void;
  /** Called every `keepAliveMs` while the trainer process lives (and only then). */
  onKeepAlive: () => void;
  keepAliveMs?: number;
  signal?: AbortSignal;
}

/**
 * Runs the trainer command of the DESIGN's trainer contract and streams its
 * JSON progress lines. The keep-alive timer lives exactly as long as the child
 * process: a silent but alive trainer (loading images, importing torch) keeps
 * the activity's heartbeat going, while a dead worker process stops beating and
 * Temporal retries the attempt after the heartbeat timeout.
 */
export async function runTrainer(run: TrainerRun, hooks: TrainerHooks): Promise<void> {
  const args = [run.script, '--data', run.dataDir, '--params', run.paramsFile, '--out', run.outDir];
  if (run.resume) args.push('--resume', run.resume);
  await keepBeating(hooks.onKeepAlive, hooks.keepAliveMs ?? 5000, () =>
    runCommand(run.python, args, {
      signal: hooks.signal,
      env: { ...process.env, PYTHONUNBUFFERED: '1' },
      onStdoutLine: (line) => {
        const event = parseProgressLine(line);
        if (event) hooks.onEvent(event);
      },
    }),
  );
}
