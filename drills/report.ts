/** The drills' table (Markdown, so it pastes into a note as is) and their JSON. */
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import type { DrillOptions, DrillResult } from './drill';

const secs = (ms: number | null) => (ms === null ? '-' : `${(ms / 1000).toFixed(1)} s`);

function errorsCell(r: DrillResult): string {
  const e = Object.entries(r.load?.errors ?? {});
  return e.length === 0 ? '0' : e.map(([status, n]) => `${n}x${status}`).join(' ');
}

export function table(results: DrillResult[]): string {
  const head = ['drill', 'fault', 'load (conn / req/s)', 'sent', '200', 'errors', 'conn failed', 'lost', 'workflow', 'recovered in', 'result'];
  const rows = results.map((r) => [
    r.name,
    r.fault,
    r.load ? `${r.load.connections} / ${r.load.rps}` : '-',
    String(r.load?.sent ?? '-'),
    String(r.load?.ok ?? '-'),
    r.load ? errorsCell(r) : '-',
    String(r.load?.connFailed ?? '-'),
    String(r.load?.lost ?? '-'),
    r.workflow.length > 70 ? `${r.workflow.slice(0, 69)}…` : r.workflow,
    secs(r.recoverMs),
    r.passed ? 'PASS' : 'FAIL',
  ]);
  const line = (cells: string[]) => `| ${cells.map((c) => c.replace(/\|/g, '/')).join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

/** Per drill: what "recovered" measured, notes, and every problem. */
export function details(results: DrillResult[]): string {
  return results
    .map((r) => {
      const lines = [`${r.passed ? 'PASS' : 'FAIL'} ${r.name} (${secs(r.durationMs)}): recovered = ${r.recoveredWhen}`];
      for (const n of r.notes) lines.push(`    note: ${n}`);
      for (const p of r.problems) lines.push(`    PROBLEM: ${p}`);
      return lines.join('\n');
    })
    .join('\n');
}

export function writeJson(file: string, results: DrillResult[], context: { stack: Record<string, unknown>; options: DrillOptions; startedAt: Date }): void {
  const doc = {
    startedAt: context.startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, loadavg: loadavg() },
    stack: context.stack,
    options: context.options,
    passed: results.every((r) => r.passed),
    drills: results,
  };
  writeFileSync(file, `${JSON.stringify(doc, null, 2)}\n`);
}
