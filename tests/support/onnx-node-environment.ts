import type { EnvironmentContext, JestEnvironmentConfig } from '@jest/environment';
import { TestEnvironment } from 'jest-environment-node';

const TYPED_ARRAYS = [
  'Float32Array', 'Float64Array', 'Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array',
  'Int32Array', 'Uint32Array', 'BigInt64Array', 'BigUint64Array',
] as const; // prettier-ignore

/**
 * Jest's node environment for tests that run real onnxruntime-node sessions.
 * The native binding creates output tensors' typed arrays in Node's main realm,
 * while onnxruntime-common (loaded inside Jest's sandbox realm) checks them with
 * `instanceof` against the sandbox's constructors and throws "A float32 tensor's
 * data must be type of Float32Array". Sharing the main realm's typed-array
 * constructors with the sandbox makes both sides agree. jest.config.js selects
 * it as the testEnvironment for every test.
 */
export default class OnnxNodeEnvironment extends TestEnvironment {
  constructor(config: JestEnvironmentConfig, context: EnvironmentContext) {
    super(config, context);
    const sandbox = this.global as unknown as Record<string, unknown>;
    for (const name of TYPED_ARRAYS) sandbox[name] = globalThis[name];
  }
}
