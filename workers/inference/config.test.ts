import { ConfigError } from '../../lib/env';
import { loadInferenceWorkerConfig, servedModels } from './config';

const refused = (env: NodeJS.ProcessEnv): string => {
  try {
    loadInferenceWorkerConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('the configuration was accepted');
};

describe('inference worker configuration', () => {
  it('accepts the defaults', () => {
    expect(loadInferenceWorkerConfig({})).toMatchObject({ WORKER_LIVENESS_TTL_MS: 1500, REAP_INTERVAL_MS: 500, REQUEST_TIMEOUT_MS: 10_000, SERVED_MODELS: '*' });
  });

  it('refuses a reclaim bound at or beyond the request deadline, naming the variables', () => {
    const message = refused({ WORKER_LIVENESS_TTL_MS: '9600', REAP_INTERVAL_MS: '400', REQUEST_TIMEOUT_MS: '10000' });
    expect(message).toMatch(/WORKER_LIVENESS_TTL_MS: WORKER_LIVENESS_TTL_MS \+ REAP_INTERVAL_MS \(10000 ms\) must be below REQUEST_TIMEOUT_MS \(10000 ms\)/);
  });

  it('refuses a stall bound that lets a stuck worker hold requests past their deadline', () => {
    expect(refused({ LOOP_STALL_MS: '9000' })).toMatch(/LOOP_STALL_MS: .*REQUEST_TIMEOUT_MS/);
  });

  it('refuses a batching wait that can use up half a deadline', () => {
    expect(refused({ MAX_BATCH_WAIT_MS: '5000' })).toMatch(/MAX_BATCH_WAIT_MS: .*half of REQUEST_TIMEOUT_MS/);
  });

  it('refuses a liveness TTL too short for its heartbeat', () => {
    expect(refused({ WORKER_LIVENESS_TTL_MS: '100' })).toMatch(/WORKER_LIVENESS_TTL_MS must be at least 300 ms/);
  });

  it('reads SERVED_MODELS as all or a list of names', () => {
    expect(servedModels({ SERVED_MODELS: '*' })).toBe('all');
    expect(servedModels({ SERVED_MODELS: ' a, b ,a,' })).toEqual(['a', 'b']);
  });
});
