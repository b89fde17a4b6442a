import { z } from 'zod';
import { commonSchema, ConfigError, envField, loadConfig } from './env';

const schema = z.object({ PORT: envField.port(8000), NAME: envField.string('x'), URL: envField.url('http://127.0.0.1:1') });

describe('loadConfig', () => {
  it('applies defaults and coerces numbers', () => {
    expect(loadConfig(schema, {})).toEqual({ PORT: 8000, NAME: 'x', URL: 'http://127.0.0.1:1' });
    expect(loadConfig(schema, { PORT: '9000' }).PORT).toBe(9000);
  });

  it('names every invalid variable and its value in one error', () => {
    expect(() => loadConfig(schema, { PORT: 'eighty', URL: 'not a url' })).toThrow(ConfigError);
    try {
      loadConfig(schema, { PORT: 'eighty', URL: 'not a url' });
    } catch (err) {
      expect((err as Error).message).toMatch(/PORT: .*\(got "eighty"\)/);
      expect((err as Error).message).toMatch(/URL: .*\(got "not a url"\)/);
    }
  });
});

describe('commonSchema: the transport settings', () => {
  it('takes a list of cluster seeds and names REDIS_CLUSTER_NODES when it is not one', () => {
    expect(loadConfig(commonSchema, { REDIS_CLUSTER_NODES: '127.0.0.1:7000,redis-1:7001' }).REDIS_CLUSTER_NODES).toBe('127.0.0.1:7000,redis-1:7001');
    expect(() => loadConfig(commonSchema, { REDIS_CLUSTER_NODES: 'redis://127.0.0.1:7000' })).toThrow(/REDIS_CLUSTER_NODES: expected host:port/);
    expect(loadConfig(commonSchema, { REDIS_CLUSTER_NODES: '' }).REDIS_CLUSTER_NODES).toBeUndefined();
  });

  it('refuses a REDIS_PREFIX with braces (they would become the hash tag of every key)', () => {
    expect(() => loadConfig(commonSchema, { REDIS_PREFIX: 'lc{x}:' })).toThrow(/REDIS_PREFIX: must not contain/);
  });
});
