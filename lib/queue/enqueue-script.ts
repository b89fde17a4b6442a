import type { RedisClient } from './redis-connection';

/**
 * Enqueues entries only if the backlog leaves room for all of them, in one
 * atomic step: a plain XLEN-then-XADD would let concurrent API instances
 * overshoot the bound. Workers delete answered entries, so XLEN is the backlog.
 * ARGV: max backlog, number of entries, then per entry its field count and fields.
 */
const ENQUEUE_IF_ROOM = `
local backlog = redis.call('XLEN', KEYS[1])
local n = tonumber(ARGV[2])
if backlog + n > tonumber(ARGV[1]) then return {0, backlog} end
local i = 3
for e = 1, n do
  local count = tonumber(ARGV[i])
  redis.call('XADD', KEYS[1], '*', unpack(ARGV, i + 1, i + count))
  i = i + 1 + count
end
return {1, backlog}
`;

type EnqueueCommand = (key: string, ...args: Array<string | number | Buffer>) => Promise<[number, number | string]>;

/**
 * The script as an ioredis command (EVALSHA, with EVAL only on a cache miss, e.g. after a Redis restart).
 * Returns whether the entries were added and the backlog before them.
 */
export function enqueueIfRoom(redis: RedisClient): (stream: string, maxBacklog: number, entries: Array<Array<string | Buffer>>) => Promise<{ added: boolean; backlog: number }> {
  if (!('lcEnqueueIfRoom' in redis)) redis.defineCommand('lcEnqueueIfRoom', { numberOfKeys: 1, lua: ENQUEUE_IF_ROOM });
  const command = (redis as unknown as { lcEnqueueIfRoom: EnqueueCommand }).lcEnqueueIfRoom.bind(redis);
  return async (stream, maxBacklog, entries) => {
    const args = entries.flatMap((fields) => [fields.length, ...fields]);
    const [added, backlog] = await command(stream, maxBacklog, entries.length, ...args);
    return { added: added === 1, backlog: Number(backlog) };
  };
}
