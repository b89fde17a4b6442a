import { Reader } from 'protobufjs/minimal';
import { z } from 'zod';

/**
 * The serving contract a model carries in its ONNX `metadata_props` (written
 * by the trainer, read by the API for preprocessing and by workers for
 * postprocessing and the golden check). Keys are namespaced `lifecycle.*`.
 */
export const METADATA_KEYS = {
  labels: 'lifecycle.labels',
  input: 'lifecycle.input',
  normalization: 'lifecycle.normalization',
  output: 'lifecycle.output',
  trainer: 'lifecycle.trainer',
  golden: 'lifecycle.golden',
} as const;

export type ModelMetadataErrorCode = 'MODEL_NOT_ONNX' | 'MODEL_METADATA_MISSING' | 'MODEL_METADATA_INVALID';

export class ModelMetadataError extends Error {
  constructor(
    readonly code: ModelMetadataErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ModelMetadataError';
  }
}

export const inputSchema = z
  .object({
    name: z.string().min(1),
    layout: z.literal('NCHW'),
    channels: z.union([z.literal(1), z.literal(3)]),
    height: z.number().int().positive().max(4096),
    width: z.number().int().positive().max(4096),
    colorspace: z.enum(['grayscale', 'rgb']),
    dtype: z.literal('float32'),
  })
  .refine((i) => (i.colorspace === 'grayscale') === (i.channels === 1), {
    message: 'colorspace grayscale needs 1 channel, rgb needs 3',
  });

const normalizationSchema = z.object({
  scale: z.number().positive(),
  mean: z.array(z.number()).min(1),
  std: z.array(z.number().positive()).min(1),
});

const outputSchema = z.object({
  name: z.string().min(1),
  kind: z.enum(['logits', 'probabilities']),
});

const goldenSchema = z
  .object({
    inputs: z.array(z.array(z.number().int().min(0).max(255))).min(1),
    expected_labels: z.array(z.string()),
    expected_probabilities: z.array(z.number().min(0).max(1)),
  })
  .refine((g) => g.expected_labels.length === g.inputs.length && g.expected_probabilities.length === g.inputs.length, {
    message: 'inputs, expected_labels and expected_probabilities must have the same length',
  });

export const modelMetadataSchema = z
  .object({
    labels: z.array(z.string().min(1)).min(2),
    input: inputSchema,
    normalization: normalizationSchema,
    output: outputSchema,
    trainer: z.string().min(1),
    golden: goldenSchema.optional(),
  })
  .superRefine((m, ctx) => {
    const c = m.input.channels;
    if (m.normalization.mean.length !== c || m.normalization.std.length !== c) {
      ctx.addIssue({ code: 'custom', path: ['normalization'], message: `mean and std need ${c} value(s), one per channel` });
    }
    const pixels = c * m.input.height * m.input.width;
    m.golden?.inputs.forEach((input, i) => {
      if (input.length !== pixels) ctx.addIssue({ code: 'custom', path: ['golden', 'inputs', i], message: `expected ${pixels} pixels` });
    });
    m.golden?.expected_labels.forEach((label, i) => {
      if (!m.labels.includes(label)) ctx.addIssue({ code: 'custom', path: ['golden', 'expected_labels', i], message: `unknown label ${label}` });
    });
  });

export type ModelMetadata = z.infer<typeof modelMetadataSchema>;
export type ModelInputSpec = ModelMetadata['input'];
export type ModelNormalization = ModelMetadata['normalization'];
export type GoldenSet = NonNullable<ModelMetadata['golden']>;

// ModelProto field numbers (onnx/onnx.proto3).
const MODEL_METADATA_PROPS = 14;
const ENTRY_KEY = 1;
const ENTRY_VALUE = 2;
const WIRE_LENGTH_DELIMITED = 2;

/**
 * Reads `ModelProto.metadata_props` from ONNX bytes.
 *
 * Hand-written on protobufjs's wire-level Reader because onnxruntime-node
 * does not expose custom metadata, and loading the whole onnx.proto schema
 * would decode every tensor of the graph just to reach a few strings; the
 * Reader skips the graph (a length-delimited field) without copying it.
 */
export function readMetadataProps(onnx: Uint8Array): Map<string, string> {
  const props = new Map<string, string>();
  try {
    const reader = Reader.create(onnx);
    while (reader.pos < reader.len) {
      const tag = reader.uint32();
      if (tag >>> 3 === MODEL_METADATA_PROPS && (tag & 7) === WIRE_LENGTH_DELIMITED) {
        const end = reader.uint32() + reader.pos;
        let key: string | undefined;
        let value = '';
        while (reader.pos < end) {
          const entryTag = reader.uint32();
          if (entryTag >>> 3 === ENTRY_KEY) key = reader.string();
          else if (entryTag >>> 3 === ENTRY_VALUE) value = reader.string();
          else reader.skipType(entryTag & 7);
        }
        if (key !== undefined) props.set(key, value);
      } else {
        reader.skipType(tag & 7);
      }
    }
  } catch (err) {
    throw new ModelMetadataError('MODEL_NOT_ONNX', `Not a readable ONNX model: ${(err as Error).message}`);
  }
  return props;
}

function parseJsonProp(props: Map<string, string>, key: string): unknown {
  const raw = props.get(key);
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    throw new ModelMetadataError('MODEL_METADATA_INVALID', `Metadata ${key} is not valid JSON`);
  }
}

/** Turns raw `lifecycle.*` props into validated metadata, naming the first bad key. */
export function parseModelMetadata(props: Map<string, string>): ModelMetadata {
  const required = [METADATA_KEYS.labels, METADATA_KEYS.input, METADATA_KEYS.normalization, METADATA_KEYS.output, METADATA_KEYS.trainer];
  const missing = required.filter((key) => !props.has(key));
  if (missing.length > 0) {
    throw new ModelMetadataError('MODEL_METADATA_MISSING', `Model metadata lacks ${missing.join(', ')}`);
  }
  const candidate = {
    labels: parseJsonProp(props, METADATA_KEYS.labels),
    input: parseJsonProp(props, METADATA_KEYS.input),
    normalization: parseJsonProp(props, METADATA_KEYS.normalization),
    output: parseJsonProp(props, METADATA_KEYS.output),
    trainer: props.get(METADATA_KEYS.trainer),
    golden: parseJsonProp(props, METADATA_KEYS.golden),
  };
  const result = modelMetadataSchema.safeParse(candidate);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue?.path.length ? `lifecycle.${issue.path.join('.')}` : 'metadata';
    throw new ModelMetadataError('MODEL_METADATA_INVALID', `Invalid model metadata at ${where}: ${issue?.message ?? 'unknown'}`);
  }
  return result.data;
}

/** Metadata of an ONNX file's bytes. */
export function readModelMetadata(onnx: Uint8Array): ModelMetadata {
  return parseModelMetadata(readMetadataProps(onnx));
}

/** The tensor shape of one example, [C, H, W]. */
export function exampleShape(input: ModelInputSpec): [number, number, number] {
  return [input.channels, input.height, input.width];
}
