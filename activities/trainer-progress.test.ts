import { parseProgressLine } from './trainer-progress';

describe('parseProgressLine', () => {
  it('parses a JSON progress object', () => {
    expect(parseProgressLine('{"event":"epoch","epoch":2,"loss":0.3}')).toEqual({ event: 'epoch', epoch: 2, loss: 0.3 });
  });

  it.each(['', 'Epoch 1 done', '[1,2]', 'null', '{not json'])('ignores non-progress output %p', (line) => {
    expect(parseProgressLine(line)).toBeNull();
  });
});
