import { z } from 'zod';
import { ConfigError, envField, loadConfig } from './env';

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
