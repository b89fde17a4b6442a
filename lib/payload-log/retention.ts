import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { FEEDBACK_TABLE_DIR } from './parquet-writer';

const DATE_DIR = /^date=(\d{4}-\d{2}-\d{2})$/;

async function subdirs(dir: string, pattern: RegExp): Promise<string[]> {
  try {
    return (await readdir(dir, { withFileTypes: true })).filter((d) => d.isDirectory() && pattern.test(d.name)).map((d) => d.name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/**
 * Deletes the date partitions (payloads and feedback) older than
 * `retentionDays` whole UTC days before `now`: payloads are user data, kept
 * no longer than configured. Partitions are whole days, so a day is deleted
 * at once, when its last entry is older than the retention. Returns the
 * deleted directories.
 */
export async function applyRetention(root: string, retentionDays: number, now = Date.now()): Promise<string[]> {
  const oldestKept = new Date(now - retentionDays * 86_400_000).toISOString().slice(0, 10);
  const deleted: string[] = [];
  for (const table of [root, join(root, FEEDBACK_TABLE_DIR)]) {
    for (const model of await subdirs(table, /^model=/)) {
      for (const version of await subdirs(join(table, model), /^version=/)) {
        for (const date of await subdirs(join(table, model, version), DATE_DIR)) {
          if (DATE_DIR.exec(date)![1]! >= oldestKept) continue;
          const dir = join(table, model, version, date);
          await rm(dir, { recursive: true, force: true });
          deleted.push(dir);
        }
      }
    }
  }
  return deleted;
}
