/** JSON schemas of the prediction routes (they validate, serialise and document the API). */

/**
 * A private copy of a schema for one route: Fastify's validator and the OpenAPI
 * generator annotate the schema objects they are given (the multipart `isFile`
 * keyword among others), so sharing one object between apps breaks the second.
 */
export const fresh = <T>(schema: T): T => structuredClone(schema);

export const predictionSchema = {
  type: 'object',
  required: ['label', 'probability'],
  properties: { label: { type: 'string' }, probability: { type: 'number', minimum: 0, maximum: 1 } },
} as const;

export const modelVersionSchema = {
  type: 'object',
  required: ['name', 'version'],
  properties: { name: { type: 'string' }, version: { type: 'string' } },
} as const;

export const predictResponseSchema = {
  type: 'object',
  required: ['request_id', 'model', 'predictions'],
  properties: {
    request_id: { type: 'string' },
    model: { ...modelVersionSchema, description: 'The model version that answered' },
    predictions: { type: 'array', items: predictionSchema, maxItems: 5, description: 'Top 5 by probability, descending' },
  },
} as const;

export const batchResponseSchema = {
  type: 'object',
  required: ['request_id', 'results'],
  properties: {
    request_id: { type: 'string' },
    results: {
      type: 'array',
      description: 'One result per uploaded image, in upload order: predictions, or the error of that image alone',
      items: {
        type: 'object',
        required: ['index'],
        properties: {
          index: { type: 'integer', description: 'Position of the image in the upload' },
          filename: { type: 'string' },
          model: modelVersionSchema,
          predictions: { type: 'array', items: predictionSchema, maxItems: 5 },
          error: { $ref: 'HttpError#' },
        },
      },
    },
  },
} as const;

export const modelNameParams = {
  type: 'object',
  required: ['name'],
  properties: { name: { type: 'string', minLength: 1, maxLength: 256, description: 'Registered model name' } },
} as const;

export const singleImageBody = {
  type: 'object',
  required: ['img_file'],
  properties: { img_file: { isFile: true, description: 'PNG, JPEG, WebP, GIF or TIFF image' } },
} as const;

export const batchImagesBody = (maxFiles: number) =>
  ({
    type: 'object',
    required: ['img_file'],
    properties: {
      img_file: {
        type: 'array',
        minItems: 1,
        maxItems: maxFiles,
        items: { isFile: true },
        description: `Up to ${maxFiles} images, each a part named img_file (PNG, JPEG, WebP, GIF or TIFF)`,
      },
    },
  }) as const;

export const errorRef = { $ref: 'HttpError#' } as const;
