import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { z } from 'zod';
import { FEEDBACK_TABLE_DIR } from '../payload-log/parquet-writer';

/** A logged request that a labeller answered: the pixels the model ran on and the true label. */
export interface LabelledPayload {
  requestId: string;
  version: string;
  label: string;
  labelledBy: string;
  /** When the label was given (epoch ms). */
  labelledAt: number;
  height: number;
  width: number;
  channels: number;
  pixels: Uint8Array;
}

/** A row of the join below, as DuckDB hands it over (BIGINT as bigint, BLOB as bytes). */
const rowSchema = z.object({
  request_id: z.string(),
  version: z.string(),
  label: z.string(),
  labelled_by: z.string(),
  labelled_at: z.coerce.number(),
  height: z.number().int().positive(),
  width: z.number().int().positive(),
  channels: z.number().int().positive(),
  pixels: z.instanceof(Uint8Array),
});

const sqlString = (s: string) => `'${s.replaceAll("'", "''")}'`;

/**
 * The payload log's labelled requests of `model` with a label given after `sinceMs`, read from
 * the Parquet files (payload and feedback tables) with DuckDB. A request that was answered but
 * not logged (PAYLOAD_LOG_SAMPLE) has no pixels and cannot become training data: only logged
 * requests join. A request labelled twice keeps its newest label.
 */
export async function readLabelledPayloads(root: string, model: string, sinceMs: number): Promise<LabelledPayload[]> {
  const payloads = join(root, `model=${model}`);
  const feedback = join(root, FEEDBACK_TABLE_DIR, `model=${model}`);
  if (!existsSync(payloads) || !existsSync(feedback)) return [];
  const glob = (dir: string) => sqlString(`${dir}/version=*/date=*/*.parquet`);
  const instance = await DuckDBInstance.create(':memory:', { threads: '1' });
  const connection = await instance.connect();
  try {
    const reader = await connection.runAndReadAll(`
      WITH fb AS (
        SELECT request_id, label, labelled_by, epoch_ms(ts) AS labelled_at,
               row_number() OVER (PARTITION BY request_id ORDER BY ts DESC) AS newest
        FROM read_parquet(${glob(feedback)}, hive_partitioning = false)
        WHERE epoch_ms(ts) > ${Math.floor(sinceMs)}
      ),
      p AS (
        SELECT request_id, version, height, width, channels, pixels,
               row_number() OVER (PARTITION BY request_id ORDER BY ts DESC) AS newest
        FROM read_parquet(${glob(payloads)}, hive_partitioning = false)
      )
      SELECT fb.request_id, p.version, fb.label, fb.labelled_by, fb.labelled_at, p.height, p.width, p.channels, p.pixels
      FROM fb JOIN p ON p.request_id = fb.request_id AND p.newest = 1
      WHERE fb.newest = 1
      ORDER BY fb.labelled_at, fb.request_id`);
    return reader.getRowObjectsJS().map((raw) => {
      const r = rowSchema.parse(raw);
      return { requestId: r.request_id, version: r.version, label: r.label, labelledBy: r.labelled_by, labelledAt: r.labelled_at, height: r.height, width: r.width, channels: r.channels, pixels: r.pixels };
    });
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}
