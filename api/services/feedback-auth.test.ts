import { ConfigError } from '../../lib/env';
import { HttpError } from '../errors';
import { FeedbackAuth, loadCredentials, parseCredentials } from './feedback-auth';

describe('feedback credentials', () => {
  it('parses name:role:token entries separated by commas or lines', () => {
    expect(parseCredentials('a:labeller:aaaaaaaaaaaaaaaa,\n b:viewer:bbbbbbbbbbbbbbbb\n# comment', 'FEEDBACK_TOKENS')).toEqual([
      { name: 'a', role: 'labeller', token: 'aaaaaaaaaaaaaaaa' },
      { name: 'b', role: 'viewer', token: 'bbbbbbbbbbbbbbbb' },
    ]);
  });

  it.each([
    ['a:labeller:short', /FEEDBACK_TOKENS: entry 1 \(a\): a token has at least 16 characters/],
    ['a:labeller', /FEEDBACK_TOKENS: entry 1/],
    ['a:labeller:aaaaaaaaaaaaaaaa:x', /expected name:role:token/],
    ['a:labeller:aaaaaaaaaaaaaaaa,a:viewer:bbbbbbbbbbbbbbbb', /credential name a appears twice/],
  ])('refuses %s at start-up, naming the variable', (text, message) => {
    expect(() => parseCredentials(text, 'FEEDBACK_TOKENS')).toThrow(ConfigError);
    expect(() => parseCredentials(text, 'FEEDBACK_TOKENS')).toThrow(message);
  });

  it('names FEEDBACK_TOKENS_FILE when the file cannot be read', () => {
    expect(() => loadCredentials({ FEEDBACK_TOKENS: '', FEEDBACK_TOKENS_FILE: '/nonexistent/tokens' })).toThrow(/FEEDBACK_TOKENS_FILE: cannot read/);
  });

  it('authorizes a labeller, 401s unknown or missing tokens, 403s other roles', () => {
    const auth = new FeedbackAuth(parseCredentials('a:labeller:aaaaaaaaaaaaaaaa,b:viewer:bbbbbbbbbbbbbbbb', 'FEEDBACK_TOKENS'));
    expect(auth.authorize('Bearer aaaaaaaaaaaaaaaa').name).toBe('a');
    const status = (header: string | undefined) => {
      try {
        auth.authorize(header);
        return 200;
      } catch (err) {
        return (err as HttpError).statusCode;
      }
    };
    expect([status(undefined), status('Basic aaaaaaaaaaaaaaaa'), status('Bearer aaaaaaaaaaaaaaab'), status('Bearer bbbbbbbbbbbbbbbb')]).toEqual([401, 401, 401, 403]);
  });
});
