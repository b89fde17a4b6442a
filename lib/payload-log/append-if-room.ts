import type { RedisClient } from '../queue/redis-connection';

/**
 * Appends one entry to a payload-log stream only while its backlog is below
 * the bound, in one atomic step (a plain XLEN-then-XADD would let concurrent
 * API instances overshoot it). The logger deletes the entries it has written,
 * so XLEN is the backlog. A full stream refuses the *new* entry rather than
 * trimming old ones (XADD MAXLEN): the refusal is visible to the caller, which
 * counts it (lifecycle_payload_log_dropped_total), whereas a trim would lose
 * entries silently. ARGV: max backlog, then the entry's fields.
 */
const APPEND_IF_ROOM = `
if redis.call('XLEN', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('XADD', KEYS[1], '*', unpack(ARGV, 2))
return 1
`;

type AppendCommand = (key: string, ...args: Array<string | number | Buffer>) => Promise<number>;

/** The script as an ioredis command; resolves true when the entry was added, false when the stream was full. */
export function appendIfRoom(redis: RedisClient): (stream: string, maxLength: number, fields: Array<string | Buffer>) => Promise<boolean> {
  if (!('lcAppendIfRoom' in redis)) redis.defineCommand('lcAppendIfRoom', { numberOfKeys: 1, lua: APPEND_IF_ROOM });
  const command = (redis as unknown as { lcAppendIfRoom: AppendCommand }).lcAppendIfRoom.bind(redis);
  return async (stream, maxLength, fields) => (await command(stream, maxLength, ...fields)) === 1;
}
