import { randomUUID } from 'node:crypto';
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DOUBLE, DuckDBInstance, LIST, listValue, VARCHAR, type DuckDBAppender, type DuckDBConnection } from '@duckdb/node-api';
import type { FeedbackEntry, PayloadEntry } from './records';

/** Where feedback goes, below the payload root (a `model=*` glob over the root does not match it). */
export const FEEDBACK_TABLE_DIR = 'feedback';

/** `<root>/model=<m>/version=<v>/date=<YYYY-MM-DD>` (UTC date of the entry). */
export function partitionDir(root: string, model: string, version: string, ts: number): string {
  const date = new Date(ts).toISOString().slice(0, 10);
  return join(root, `model=${model}`, `version=${version}`, `date=${date}`);
}

const PAYLOAD_COLUMNS = `request_id VARCHAR, model VARCHAR, version VARCHAR, ts BIGINT, height INTEGER, width INTEGER, channels INTEGER,
  pixels BLOB, top_labels VARCHAR[], top_probabilities DOUBLE[], latency_ms DOUBLE`;
const FEEDBACK_COLUMNS = `request_id VARCHAR, model VARCHAR, version VARCHAR, ts BIGINT, label VARCHAR, predicted VARCHAR, correct BOOLEAN,
  labelled_by VARCHAR, predicted_at BIGINT`;

const sqlString = (s: string) => `'${s.replaceAll("'", "''")}'`;

/**
 * Writes entries as Parquet with DuckDB (COPY ... TO ... (FORMAT parquet)):
 * rows are appended to a staging table, copied to `<part>.parquet.tmp` and
 * renamed, so a reader globbing `*.parquet` never sees a half-written file.
 * Times become TIMESTAMPs (epoch_ms), so DuckDB and pandas read them as such.
 */
export class ParquetWriter {
  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly connection: DuckDBConnection,
    private readonly writerId: string,
  ) {}

  static async open(writerId = randomUUID().slice(0, 8)): Promise<ParquetWriter> {
    const instance = await DuckDBInstance.create(':memory:', { threads: '1' });
    return new ParquetWriter(instance, await instance.connect(), writerId.replace(/[^\w.-]/g, '_'));
  }

  /** One file per model/version/date partition of `rows`; returns the files written. */
  async writePayloads(root: string, rows: PayloadEntry[]): Promise<string[]> {
    return this.write(root, rows, PAYLOAD_COLUMNS, 'epoch_ms(ts) AS ts', (a, r) => {
      a.appendVarchar(r.request_id);
      a.appendVarchar(r.model);
      a.appendVarchar(r.version);
      a.appendBigInt(BigInt(Math.round(r.ts)));
      a.appendInteger(r.height);
      a.appendInteger(r.width);
      a.appendInteger(r.channels);
      a.appendBlob(new Uint8Array(r.pixels.buffer, r.pixels.byteOffset, r.pixels.byteLength));
      a.appendList(listValue(r.top_k.map((p) => p.label)), LIST(VARCHAR));
      a.appendList(listValue(r.top_k.map((p) => p.probability)), LIST(DOUBLE));
      a.appendDouble(r.latency_ms);
    });
  }

  async writeFeedback(root: string, rows: FeedbackEntry[]): Promise<string[]> {
    return this.write(join(root, FEEDBACK_TABLE_DIR), rows, FEEDBACK_COLUMNS, 'epoch_ms(ts) AS ts, epoch_ms(predicted_at) AS predicted_at', (a, r) => {
      a.appendVarchar(r.request_id);
      a.appendVarchar(r.model);
      a.appendVarchar(r.version);
      a.appendBigInt(BigInt(Math.round(r.ts)));
      a.appendVarchar(r.label);
      a.appendVarchar(r.predicted);
      a.appendBoolean(r.correct);
      a.appendVarchar(r.labelled_by);
      a.appendBigInt(BigInt(Math.round(r.predicted_at)));
    });
  }

  close(): void {
    this.connection.closeSync();
    this.instance.closeSync();
  }

  private async write<R extends { model: string; version: string; ts: number }>(
    root: string,
    rows: R[],
    columns: string,
    replace: string,
    append: (a: DuckDBAppender, row: R) => void,
  ): Promise<string[]> {
    const groups = new Map<string, R[]>();
    for (const row of rows) {
      const dir = partitionDir(root, row.model, row.version, row.ts);
      groups.set(dir, [...(groups.get(dir) ?? []), row]);
    }
    const files: string[] = [];
    for (const [dir, group] of groups) {
      mkdirSync(dir, { recursive: true });
      const file = join(dir, `${Date.now()}-${this.writerId}-${randomUUID().slice(0, 8)}.parquet`);
      await this.connection.run(`CREATE OR REPLACE TEMP TABLE stage (${columns})`);
      const appender = await this.connection.createAppender('stage');
      for (const row of group) {
        append(appender, row);
        appender.endRow();
      }
      appender.closeSync();
      try {
        await this.connection.run(`COPY (SELECT * REPLACE (${replace}) FROM stage) TO ${sqlString(`${file}.tmp`)} (FORMAT parquet)`);
        renameSync(`${file}.tmp`, file);
      } catch (err) {
        rmSync(`${file}.tmp`, { force: true });
        throw err;
      }
      files.push(file);
    }
    return files;
  }
}
