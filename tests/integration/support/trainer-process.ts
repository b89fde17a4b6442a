import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ROOT, VENV_BIN } from './env';

export const TRAINER = join(ROOT, 'trainer/train.py');
export const PYTHON = join(VENV_BIN, 'python');

/** One JSON progress line of the trainer (see trainer/README.md). */
export type TrainerEvent = { event: string } & Record<string, unknown>;

export interface TrainerRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  events: TrainerEvent[];
  stderr: string;
}

export interface TrainerArgs {
  data: string;
  out: string;
  params?: Record<string, unknown>;
  resume?: string;
  /** Called for each stdout event as it arrives; `kill` sends SIGKILL to the trainer. */
  onEvent?: (event: TrainerEvent, kill: () => void) => void;
}

/**
 * Runs the real trainer (trainer/train.py) from the project venv and collects its stdout events.
 * Resolves with the exit code or signal; never rejects on a non-zero exit (tests assert on it).
 */
export async function runTrainer(args: TrainerArgs): Promise<TrainerRun> {
  await mkdir(args.out, { recursive: true });
  const argv = [TRAINER, '--data', args.data, '--out', args.out];
  if (args.params) {
    const paramsFile = join(args.out, `params-${Date.now()}-${Math.random().toString(36).slice(2)}.json`);
    await writeFile(paramsFile, JSON.stringify(args.params));
    argv.push('--params', paramsFile);
  }
  if (args.resume) argv.push('--resume', args.resume);
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, argv, { cwd: ROOT, env: { ...process.env, PYTHONUNBUFFERED: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    const events: TrainerEvent[] = [];
    const stderr: string[] = [];
    const kill = () => child.kill('SIGKILL');
    createInterface({ input: child.stdout }).on('line', (line) => {
      const event = JSON.parse(line) as TrainerEvent; // the contract: every stdout line is one JSON object
      events.push(event);
      args.onEvent?.(event, kill);
    });
    createInterface({ input: child.stderr }).on('line', (line) => stderr.push(line));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, events, stderr: stderr.join('\n') }));
  });
}

/** Fails with the trainer's stderr tail unless it exited 0. */
export function expectSuccess(run: TrainerRun): TrainerRun {
  if (run.code !== 0) throw new Error(`trainer exited ${run.code ?? run.signal}:\n${run.stderr.split('\n').slice(-15).join('\n')}`);
  return run;
}

export function eventsOf(run: TrainerRun, name: string): TrainerEvent[] {
  return run.events.filter((e) => e.event === name);
}
