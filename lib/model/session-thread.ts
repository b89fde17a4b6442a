import { Worker } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { ortSessionOptions, type CreateSession, type SessionLike, type SessionOptions } from './model-runner';

/**
 * The thread's program, plain CommonJS evaluated in the thread (so it runs the
 * same under tsx, ts-jest and the compiled dist/, with no loader to pass on).
 * onnxruntime-node's `session.run` is synchronous on the calling thread (its
 * Promise only defers the call with setImmediate); here it blocks this thread
 * instead of the worker's event loop, which keeps reading, decoding, replying
 * and heartbeating while a batch runs.
 */
const THREAD_PROGRAM = `
const { parentPort, workerData } = require('node:worker_threads');
const ort = require(workerData.ortPath);
const message = (err) => String((err && err.message) || err);
const ready = ort.InferenceSession.create(workerData.onnx, workerData.options);
ready.then(
  (s) => parentPort.postMessage({ type: 'ready', inputNames: s.inputNames, outputNames: s.outputNames }),
  (err) => parentPort.postMessage({ type: 'failed', message: message(err) }),
);
parentPort.on('message', async (msg) => {
  const session = await ready;
  if (msg.type === 'release') {
    await session.release();
    parentPort.close();
    return;
  }
  try {
    const feeds = {};
    for (const [name, t] of Object.entries(msg.feeds)) feeds[name] = new ort.Tensor(t.type, t.data, t.dims);
    const out = await session.run(feeds);
    const outputs = {};
    for (const [name, t] of Object.entries(out)) outputs[name] = { type: t.type, data: t.data, dims: t.dims };
    parentPort.postMessage({ type: 'result', id: msg.id, outputs });
  } catch (err) {
    parentPort.postMessage({ type: 'result', id: msg.id, error: message(err) });
  }
});
`;

interface WireTensor {
  type: ort.Tensor.Type;
  data: ort.Tensor.DataType;
  dims: readonly number[];
}

type FromThread =
  | { type: 'ready'; inputNames: string[]; outputNames: string[] }
  | { type: 'failed'; message: string }
  | { type: 'result'; id: number; outputs?: Record<string, WireTensor>; error?: string };

/** An onnxruntime session living on a thread of its own; runs are queued there one after another. */
class ThreadSession implements SessionLike {
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (v: Record<string, ort.OnnxValue>) => void; reject: (e: Error) => void }>();
  private dead: Error | null = null;

  private constructor(
    private readonly thread: Worker,
    readonly inputNames: readonly string[],
    readonly outputNames: readonly string[],
  ) {
    thread.on('message', (msg: FromThread) => {
      if (msg.type !== 'result') return;
      const waiting = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      if (msg.error !== undefined || !msg.outputs) waiting?.reject(new Error(msg.error ?? 'no outputs'));
      else waiting?.resolve(Object.fromEntries(Object.entries(msg.outputs).map(([name, t]) => [name, new ort.Tensor(t.type, t.data, t.dims)])));
    });
    const fail = (err: Error) => {
      this.dead = err;
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    thread.on('error', fail);
    thread.on('exit', (code) => fail(new Error(`the session thread exited (${code})`)));
  }

  static async start(onnx: Uint8Array, opts: SessionOptions): Promise<ThreadSession> {
    const thread = new Worker(THREAD_PROGRAM, { eval: true, workerData: { ortPath: require.resolve('onnxruntime-node'), onnx, options: ortSessionOptions(opts) } });
    const ready = await new Promise<FromThread & { type: 'ready' }>((resolve, reject) => {
      thread.once('message', (msg: FromThread) => (msg.type === 'ready' ? resolve(msg) : reject(new Error(msg.type === 'failed' ? msg.message : 'unexpected message'))));
      thread.once('error', reject);
      thread.once('exit', (code) => reject(new Error(`the session thread exited (${code}) before its session was ready`)));
    }).catch(async (err: Error) => {
      await thread.terminate();
      throw err;
    });
    return new ThreadSession(thread, ready.inputNames, ready.outputNames);
  }

  run(feeds: Record<string, ort.Tensor>): Promise<Record<string, ort.OnnxValue>> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    const wire: Record<string, WireTensor> = {};
    const transfer: ArrayBuffer[] = [];
    for (const [name, t] of Object.entries(feeds)) {
      wire[name] = { type: t.type, data: t.data, dims: t.dims };
      // The batch buffer is built for this run alone: hand it over instead of copying it.
      const data = t.data as ArrayBufferView;
      if (data.buffer instanceof ArrayBuffer && data.byteOffset === 0 && data.byteLength === data.buffer.byteLength) transfer.push(data.buffer);
    }
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.thread.postMessage({ type: 'run', id, feeds: wire }, transfer);
    });
  }

  async release(): Promise<void> {
    if (this.dead) return;
    const exited = new Promise((r) => this.thread.once('exit', r));
    this.thread.postMessage({ type: 'release' });
    const timer = setTimeout(() => void this.thread.terminate(), 5000);
    await exited;
    clearTimeout(timer);
  }
}

/** Sessions that run on a thread of their own (one per loaded model version). */
export const createThreadSession: CreateSession = (onnx, opts) => ThreadSession.start(onnx, opts);
