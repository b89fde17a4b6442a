/**
 * A progressive rollout as text, under the rollout stage of the CLI's
 * progress view: the steps (done, current, to come), the current step's time
 * and latest decision, and each criterion's numbers. Pure, unit-tested.
 */
import { dur } from '../analysis/decide';
import type { RolloutProgress } from './progress';

const MARK = { done: '✔', current: '▶', next: '·' } as const;

export function rolloutLines(r: RolloutProgress): string[] {
  if (r.strategy !== 'progressive') return [];
  const lines = r.steps.map((s, i) => {
    const done = r.history.find((h) => h.step === i + 1);
    const mark = done ? (done.decision === 'continue' ? MARK.done : '✘') : i === r.stepIndex && r.state !== 'passed' ? MARK.current : MARK.next;
    const bounds = `min ${dur(s.minDurationMs)}, max ${dur(s.maxDurationMs)}, ${s.minSamples} samples`;
    const what = done ? `${done.decision} after ${done.elapsedS} s: n=${done.n}${done.agreement === null ? '' : `, agreement ${done.agreement}`}` : bounds;
    return `      ${mark} ${i + 1}. ${s.mode} ${Math.round(s.share * 100)}%  ${what}`;
  });
  const head = `    progressive vs champion v${r.championVersion}: ${r.state}${r.state === 'running' || r.state === 'paused' ? `, step ${r.stepIndex + 1}/${r.steps.length} for ${dur(r.timeInStepMs)}` : ''}`;
  const out = [head, ...lines];
  if (r.latest && r.state !== 'passed') {
    out.push(`      latest: ${r.latest.decision}: ${r.latest.reason}`);
    for (const c of r.latest.criteria) out.push(`        ${c.verdict.padEnd(9)} ${c.name.padEnd(14)} ${c.detail}`);
  }
  if (r.lastAction) out.push(`      last action: ${r.lastAction.action}${r.lastAction.by ? ` by ${r.lastAction.by}` : ''}${r.lastAction.reason ? ` (${r.lastAction.reason})` : ''}`);
  if (r.reason) out.push(`      ${r.state}: ${r.reason}`);
  return out;
}
