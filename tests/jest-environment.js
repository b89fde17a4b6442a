// Jest runs each test file in its own VM realm, whose typed-array constructors
// differ from Node's. onnxruntime-node builds output tensors from typed arrays
// made in Node's realm and checks them with `instanceof` in the test's realm,
// which fails. Sharing Node's typed-array constructors makes both agree.
const { TestEnvironment } = require('jest-environment-node');

const TYPED = ['ArrayBuffer', 'SharedArrayBuffer', 'Float32Array', 'Float64Array', 'Int8Array', 'Int16Array', 'Int32Array', 'Uint8Array', 'Uint8ClampedArray', 'Uint16Array', 'Uint32Array', 'BigInt64Array', 'BigUint64Array'];

class SharedTypedArrayEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of TYPED) this.global[name] = globalThis[name];
  }
}

module.exports = SharedTypedArrayEnvironment;
