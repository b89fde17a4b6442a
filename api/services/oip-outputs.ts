import type { ActiveModel } from '../../lib/fleet/protocol';
import { encodeBytesElements, encodeFp32 } from '../../lib/oip/binary-data';
import { OUTPUT_NAMES, TENSORS, type InferenceRequest, type InferenceResponse, type OutputName, type ResponseOutput } from '../../lib/oip/protocol';
import type { InferenceResult } from '../../lib/queue/inference-client';
import { HttpError } from '../errors';

export interface WantedOutput {
  name: OutputName;
  /** Returned as binary data after the JSON (the binary tensor data extension). */
  binary: boolean;
}

const isOutputName = (name: string): name is OutputName => (OUTPUT_NAMES as readonly string[]).includes(name);

/**
 * The outputs a request asks for, in its order: all of them without `outputs` (or with an empty list, as
 * tritonclient sends none when given none). An output is binary when
 * its `binary_data` parameter says so, else as the request's `binary_data_output` says (default JSON).
 */
export function wantedOutputs(request: InferenceRequest): WantedOutput[] {
  const byDefault = request.parameters?.binary_data_output === true;
  if (!request.outputs?.length) return OUTPUT_NAMES.map((name) => ({ name, binary: byDefault }));
  const seen = new Set<string>();
  return request.outputs.map((o) => {
    if (!isOutputName(o.name)) throw new HttpError(400, 'INVALID_TENSOR', `Unknown output ${o.name}: the outputs are ${OUTPUT_NAMES.join(' and ')}`);
    if (seen.has(o.name)) throw new HttpError(400, 'INVALID_TENSOR', `Output ${o.name} is requested twice`);
    seen.add(o.name);
    if (o.parameters?.classification !== undefined) {
      throw new HttpError(400, 'INVALID_TENSOR', `The classification extension is not supported: output ${TENSORS.label} is the top-1 label, ${TENSORS.probabilities} every class's probability`);
    }
    const binary = o.parameters?.binary_data;
    return { name: o.name, binary: typeof binary === 'boolean' ? binary : byDefault };
  });
}

/** The top-k a worker must answer with: every class when the probabilities are wanted, else the top-1. */
export function topKFor(outputs: WantedOutput[], model: ActiveModel): number {
  return outputs.some((o) => o.name === TENSORS.probabilities) ? model.metadata.labels.length : 1;
}

/**
 * Every image's probabilities in the label order of the model's metadata. The worker answers sorted by
 * probability; a reply whose labels are not exactly the model's (a version with other classes answered
 * mid-rollout) cannot be put in that order and fails the request instead of answering in a wrong one.
 */
function probabilitiesInLabelOrder(results: InferenceResult[], labels: readonly string[]): Float32Array {
  const index = new Map(labels.map((l, i) => [l, i]));
  const out = new Float32Array(results.length * labels.length);
  results.forEach((r, row) => {
    const filled = new Set<number>();
    for (const p of r.predictions) {
      const i = index.get(p.label);
      if (i === undefined) continue;
      filled.add(i);
      out[row * labels.length + i] = p.probability;
    }
    if (filled.size !== labels.length || r.predictions.length !== labels.length) {
      throw new HttpError(500, 'LABELS_MISMATCH', `${r.model.name} v${r.model.version} answered with classes other than the ${labels.length} labels of the served version's metadata`);
    }
  });
  return out;
}

/** The response (JSON part, and the binary tensors that follow it in output order). */
export function buildResponse(
  model: ActiveModel,
  id: string,
  results: InferenceResult[],
  outputs: WantedOutput[],
): { json: InferenceResponse; binary: Buffer[] } {
  const n = results.length;
  const labels = model.metadata.labels;
  const binary: Buffer[] = [];
  const tensors: ResponseOutput[] = outputs.map(({ name, binary: asBinary }) => {
    if (name === TENSORS.probabilities) {
      const p = probabilitiesInLabelOrder(results, labels);
      const tensor = { name, shape: [n, labels.length], datatype: 'FP32' };
      if (!asBinary) return { ...tensor, data: Array.from(p) };
      binary.push(encodeFp32(p));
      return { ...tensor, parameters: { binary_data_size: p.length * 4 } };
    }
    const top1 = results.map((r) => r.predictions[0]?.label ?? '');
    const tensor = { name, shape: [n], datatype: 'BYTES' };
    if (!asBinary) return { ...tensor, data: top1 };
    const raw = encodeBytesElements(top1.map((l) => Buffer.from(l, 'utf8')));
    binary.push(raw);
    return { ...tensor, parameters: { binary_data_size: raw.length } };
  });
  const versions = results.map((r) => r.model.version);
  const mixed = new Set(versions).size > 1;
  return {
    json: {
      model_name: model.name,
      model_version: versions[0] ?? model.version,
      id,
      // Mid-rollout the images of one request can be answered by two versions: say which answered which.
      ...(mixed ? { parameters: { model_versions: JSON.stringify(versions) } } : {}),
      outputs: tensors,
    },
    binary,
  };
}
