import type { Sample } from './samples';

export interface AccuracyResult {
  images: number;
  answered: number;
  accuracy: number;
  statuses: Record<string, number>;
  versions: string[];
}

/** Top-1 accuracy through POST /predict on held-out images (a correctness check of the whole path, not a load test). */
export async function measureAccuracy(url: string, samples: Sample[], concurrency = 8): Promise<AccuracyResult> {
  const statuses: Record<string, number> = {};
  const versions = new Set<string>();
  let correct = 0;
  let answered = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < samples.length) {
        const sample = samples[next++]!;
        const form = new FormData();
        form.append('img_file', new Blob([new Uint8Array(sample.png)], { type: 'image/png' }), 'x.png');
        const res = await fetch(url, { method: 'POST', body: form });
        const body = (await res.json()) as { model?: { version: string }; predictions?: { label: string }[] };
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
        if (res.status !== 200) continue;
        answered++;
        if (body.model) versions.add(body.model.version);
        if (body.predictions?.[0]?.label === sample.label) correct++;
      }
    }),
  );
  return { images: samples.length, answered, accuracy: answered ? correct / answered : NaN, statuses, versions: [...versions] };
}
