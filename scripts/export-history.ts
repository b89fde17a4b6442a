import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';

/**
 * Saves a workflow execution's event history as JSON for the replay test
 * (workflows/replay.test.ts replays every file in tests/fixtures/histories/):
 *
 *   npx tsx scripts/export-history.ts --workflow-id retrain-v2 [--run-id R] [--out tests/fixtures/histories/retrain-v2.json]
 *
 * Export completed executions of the current workflow code; commit the file.
 */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'workflow-id': { type: 'string' },
      'run-id': { type: 'string' },
      out: { type: 'string' },
      address: { type: 'string', default: process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233' },
      namespace: { type: 'string', default: process.env.TEMPORAL_NAMESPACE ?? 'default' },
    },
  });
  const workflowId = values['workflow-id'];
  if (!workflowId) throw new Error('usage: export-history.ts --workflow-id ID [--run-id RUN] [--out FILE]');
  const connection = await Connection.connect({ address: values.address });
  try {
    const client = new Client({ connection, namespace: values.namespace });
    const history = await client.workflow.getHandle(workflowId, values['run-id']).fetchHistory();
    const out = resolve(values.out ?? `tests/fixtures/histories/${workflowId.replace(/[^A-Za-z0-9._-]/g, '_')}.json`);
    writeFileSync(out, historyToJSON(history));
    console.log(`wrote ${history.events?.length ?? 0} events to ${out}`);
  } finally {
    await connection.close();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
