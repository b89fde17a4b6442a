import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ActiveModel } from '../../lib/fleet/protocol';
import { TENSORS, type ModelMetadataResponse } from '../../lib/oip/protocol';
import { HttpError } from '../errors';
import type { Predictor } from './predictor';

/** The extensions of the protocol the server implements (server metadata). */
export const OIP_EXTENSIONS = ['binary_tensor_data'] as const;

/** The package's version, read once from the package.json above this file (source tree or dist/ alike). */
export const SERVER_VERSION = ((): string => {
  for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
    if (pkg.name === 'lifecycle' && pkg.version) return pkg.version;
  }
  return 'unknown';
})();

/**
 * The served model `name`, and with `version` that version only: the fleet serves one version of each
 * model (a rollout's target as soon as it starts), so any other is refused with a 404 naming the served one.
 */
export function resolveServed(predictor: Pick<Predictor, 'resolve'>, name: string, version?: string): ActiveModel {
  const model = predictor.resolve(name);
  if (version !== undefined && version !== model.version) {
    throw new HttpError(404, 'VERSION_NOT_SERVED', `Version ${version} of model ${name} is not served: the fleet serves version ${model.version} (GET /v2/models/${name})`);
  }
  return model;
}

/** The protocol's model metadata: Lifecycle's tensors at the model's geometry, its labels as a parameter. */
export function modelMetadata(model: ActiveModel): ModelMetadataResponse {
  const { input, labels } = model.metadata;
  return {
    name: model.name,
    versions: [model.version],
    platform: 'onnxruntime',
    inputs: [
      { name: TENSORS.image, datatype: 'BYTES', shape: [-1], parameters: { description: 'Encoded image files (PNG, JPEG, WebP, GIF or TIFF), decoded and resized like POST /predict' } },
      { name: TENSORS.pixels, datatype: 'UINT8', shape: [-1, input.height, input.width, input.channels], parameters: { colorspace: input.colorspace } },
    ],
    outputs: [
      { name: TENSORS.probabilities, datatype: 'FP32', shape: [-1, labels.length], parameters: { description: 'Probability of every class, in label order' } },
      { name: TENSORS.label, datatype: 'BYTES', shape: [-1], parameters: { description: 'The most probable label' } },
    ],
    // Parameter values are scalars: the labels travel as a JSON array in a string, in class order.
    parameters: { labels: JSON.stringify(labels) },
  };
}
