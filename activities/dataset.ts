import type { DatasetRef, DatasetCheck, ResolvedDataset } from '../lib/lifecycle/types';
import { checkoutRevision, type DatasetDeps } from '../lib/dataset/checkout';
import { DatasetError } from '../lib/dataset/errors';
import { materialize, type MaterializedDataset } from '../lib/dataset/materialize';
import { checkRemote } from '../lib/dataset/remote-check';

export { DatasetError } from '../lib/dataset/errors';
export type { DatasetDeps } from '../lib/dataset/checkout';
export type { MaterializedDataset } from '../lib/dataset/materialize';

/**
 * Pipeline side of "pull once": pins the revision to a commit, reads the DVC
 * digest, and checks that the DVC remote holds every object of it, without
 * downloading any data. Only the training worker materialises the files.
 */
export async function resolveDataset(ref: DatasetRef, deps: DatasetDeps): Promise<ResolvedDataset> {
  const { dataset, complete, message } = await inspectDataset(ref, deps);
  if (!complete) {
    throw new DatasetError(
      `${dataset.path} at ${dataset.commit.slice(0, 12)} (digest ${dataset.digest}) is not fully in the DVC remote (${message}): run \`dvc push\``,
      'DATASET_NOT_IN_REMOTE',
    );
  }
  return dataset;
}

/** The revision's coordinates and whether the remote is complete (the data trigger skips incomplete pushes). */
export async function inspectDataset(ref: DatasetRef, deps: DatasetDeps): Promise<Omit<DatasetCheck, 'alreadyTrained'> & { message: string }> {
  const checkout = await checkoutRevision(ref, deps);
  try {
    deps.onProgress?.(`checking the DVC remote for ${checkout.dataset.digest}`);
    const remote = await checkRemote(checkout, deps);
    return { dataset: checkout.dataset, complete: remote.complete, message: remote.message };
  } finally {
    await checkout.cleanup();
  }
}

/** Training side: the dataset's files in this worker's cache (see lib/dataset/materialize.ts). */
export function materializeDataset(ref: DatasetRef | ResolvedDataset, deps: DatasetDeps): Promise<MaterializedDataset> {
  return materialize(ref, deps);
}
