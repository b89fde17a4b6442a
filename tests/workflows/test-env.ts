import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { historyFromJSON, historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { temporal } from '@temporalio/proto';

type History = temporal.api.history.v1.IHistory;
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { LIFECYCLE_SEARCH_ATTRIBUTES } from '../../lib/lifecycle/search-attributes';
import { DefaultLogger, Runtime, bundleWorkflowCode, makeTelemetryFilterString, type WorkflowBundleWithSourceMap } from '@temporalio/worker';

export const ROOT = resolve(__dirname, '../..');
export const WORKFLOWS_PATH = require.resolve('../../workflows');

/** Quiet SDK logs; installing twice in one Jest worker process throws, which is fine. */
export function quietRuntime(): void {
  try {
    Runtime.install({ logger: new DefaultLogger('ERROR'), telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'ERROR' }) } } });
  } catch {
    // already installed in this process
  }
}

/**
 * A throw-away Temporal dev server from the project venv's `temporal` CLI:
 * nothing is downloaded at test time. (Time-skipping needs the Java test
 * server, which the project does not ship; the workflows take their timeouts
 * from their input instead, so tests shorten them.)
 */
export async function startTestServer(): Promise<TestWorkflowEnvironment> {
  quietRuntime();
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: join(ROOT, '.venv/bin/temporal') },
      log: { format: 'pretty', level: 'error' },
      // The lifecycle workflows upsert these; on a namespace without them every workflow task would fail.
      searchAttributes: Object.values(LIFECYCLE_SEARCH_ATTRIBUTES),
    },
  });
}

/** One bundle per test file: bundling costs seconds, workers are cheap. */
export function bundleWorkflows(): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: new DefaultLogger('ERROR') });
}

/**
 * With LIFECYCLE_RECORD_HISTORIES=<dir>, saves the execution's history for the
 * replay test (tests/fixtures/histories/): `npm run record-histories` does it.
 */
export async function maybeRecordHistory(handle: WorkflowHandle, name: string): Promise<void> {
  const dir = process.env.LIFECYCLE_RECORD_HISTORIES;
  if (!dir) return;
  mkdirSync(resolve(ROOT, dir), { recursive: true });
  writeFileSync(resolve(ROOT, dir, `${name}.json`), historyToJSON(await handle.fetchHistory()));
}

export const HISTORIES_DIR = join(ROOT, 'tests/fixtures/histories');

/** Every history in tests/fixtures/histories/, named by file. */
export function loadRecordedHistories(): { workflowId: string; history: History }[] {
  return readdirSync(HISTORIES_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => ({ workflowId: file, history: historyFromJSON(JSON.parse(readFileSync(join(HISTORIES_DIR, file), 'utf8'))) }));
}
