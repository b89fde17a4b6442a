/**
 * What a client attaches when it starts a lifecycle workflow, so the Temporal UI
 * shows it before the workflow has run a step: a static summary (Temporal user
 * metadata: the one line of what was asked), static details (the input, in
 * Markdown) and the search attributes known from the input. The workflow upserts
 * the rest (dataset digest, version, outcome, its story) as it learns them.
 */
import type { SearchAttributePair } from '@temporalio/common';
import { LIFECYCLE_SEARCH_ATTRIBUTES as SA } from './search-attributes';
import { storyHead } from './story';
import { parseInput, promoteVersionInputSchema, trainAndPromoteInputSchema } from './input';
import type { PromoteVersionInput, TrainAndPromoteInput } from './types';

export interface StartMetadata {
  staticSummary: string;
  staticDetails: string;
  typedSearchAttributes: SearchAttributePair[];
}

function details(input: object): string {
  return `Input:\n\n\`\`\`json\n${JSON.stringify(input, null, 2)}\n\`\`\``;
}

/** For a trainAndPromote input (validated here: defaults such as the model name resolved as the workflow will). */
export function trainStartMetadata(raw: TrainAndPromoteInput): StartMetadata {
  const input = parseInput(trainAndPromoteInputSchema, raw, 'trainAndPromote');
  const pairs: SearchAttributePair[] = [{ key: SA.model, value: input.modelName }];
  if (input.dataset.path) pairs.push({ key: SA.datasetPath, value: input.dataset.path });
  return { staticSummary: storyHead(input.modelName, { kind: 'train', datasetRef: input.dataset }), staticDetails: details(raw), typedSearchAttributes: pairs };
}

export function promoteStartMetadata(raw: PromoteVersionInput): StartMetadata {
  const input = parseInput(promoteVersionInputSchema, raw, 'promoteVersion');
  const kind = input.rollback ? 'rollback' : 'promote';
  return {
    staticSummary: storyHead(input.modelName, { kind, version: input.version, force: input.force }),
    staticDetails: details(raw),
    typedSearchAttributes: [{ key: SA.model, value: input.modelName }],
  };
}
