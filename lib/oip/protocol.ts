/**
 * The Open Inference Protocol (KServe v2) REST messages Lifecycle speaks under /v2: the inference
 * request and response, model and server metadata. Each type is derived from its schema; the routes'
 * JSON Schemas (validation and OpenAPI) are generated from these too (see api/routes/v2/schemas.ts).
 */
import { z } from 'zod';

/** Parameter values are scalars (the protocol's `$parameter`). */
export const parametersSchema = z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()]));
export type Parameters = z.infer<typeof parametersSchema>;

/** The protocol's tensor data types; Lifecycle's tensors use BYTES, UINT8 and FP32. */
export const DATATYPES = ['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'FP32', 'FP64', 'BYTES', 'BF16'] as const;
export type Datatype = (typeof DATATYPES)[number];

export const requestInputSchema = z.object({
  name: z.string(),
  shape: z.array(z.number().int().min(0)),
  datatype: z.string(),
  parameters: parametersSchema.optional(),
  /** Row-major, nested or flat; absent when the tensor travels as binary data (parameters.binary_data_size). */
  data: z.array(z.unknown()).optional(),
});
export type RequestInput = z.infer<typeof requestInputSchema>;

export const requestOutputSchema = z.object({
  name: z.string(),
  parameters: parametersSchema.optional(),
});
export type RequestOutput = z.infer<typeof requestOutputSchema>;

export const inferenceRequestSchema = z.object({
  id: z.string().optional(),
  parameters: parametersSchema.optional(),
  inputs: z.array(requestInputSchema).min(1),
  outputs: z.array(requestOutputSchema).optional(),
});
export type InferenceRequest = z.infer<typeof inferenceRequestSchema>;

export const responseOutputSchema = z.object({
  name: z.string(),
  shape: z.array(z.number().int()),
  datatype: z.string(),
  parameters: parametersSchema.optional(),
  /** Absent when the tensor follows the JSON as binary data (parameters.binary_data_size). */
  data: z.array(z.union([z.number(), z.string()])).optional(),
});
export type ResponseOutput = z.infer<typeof responseOutputSchema>;

export const inferenceResponseSchema = z.object({
  model_name: z.string(),
  model_version: z.string().optional(),
  id: z.string(),
  parameters: parametersSchema.optional(),
  outputs: z.array(responseOutputSchema),
});
export type InferenceResponse = z.infer<typeof inferenceResponseSchema>;

export const tensorMetadataSchema = z.object({
  name: z.string(),
  datatype: z.string(),
  shape: z.array(z.number().int()),
  parameters: parametersSchema.optional(),
});
export type TensorMetadata = z.infer<typeof tensorMetadataSchema>;

export const modelMetadataResponseSchema = z.object({
  name: z.string(),
  versions: z.array(z.string()),
  platform: z.string(),
  inputs: z.array(tensorMetadataSchema),
  outputs: z.array(tensorMetadataSchema),
  parameters: parametersSchema.optional(),
});
export type ModelMetadataResponse = z.infer<typeof modelMetadataResponseSchema>;

export const serverMetadataResponseSchema = z.object({
  name: z.string(),
  version: z.string(),
  extensions: z.array(z.string()),
});

export const serverLiveSchema = z.object({ live: z.boolean() });
export const readySchema = z.object({ ready: z.boolean() });
export const modelReadySchema = z.object({ name: z.string(), ready: z.boolean() });

/** The protocol's error object; `code` is Lifecycle's stable code of the error (the same codes as the other routes). */
export const errorResponseSchema = z.object({ error: z.string(), code: z.string() });
export type ErrorResponse = z.infer<typeof errorResponseSchema>;

/** Tensor names of Lifecycle's classifiers (the same for every model: the geometry and labels come from its metadata). */
export const TENSORS = {
  image: 'image',
  pixels: 'pixels',
  probabilities: 'probabilities',
  label: 'label',
} as const;
export const OUTPUT_NAMES = [TENSORS.probabilities, TENSORS.label] as const;
export type OutputName = (typeof OUTPUT_NAMES)[number];
