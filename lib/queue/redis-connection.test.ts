import { Cluster, Redis } from 'ioredis';
import { clusterNodesOf, connectRedis, isCluster } from './redis-connection';

describe('connectRedis', () => {
  it('connects to one Redis when REDIS_CLUSTER_NODES is unset', () => {
    const redis = connectRedis({ REDIS_URL: 'redis://127.0.0.1:1' }, { lazyConnect: true });
    expect(redis).toBeInstanceOf(Redis);
    expect(isCluster(redis)).toBe(false);
    redis.disconnect();
  });

  it("makes a cluster client of the seeds, with REDIS_URL's credentials and TLS on every node", () => {
    const target = { REDIS_URL: 'rediss://svc:p%40ss@ignored:6379', REDIS_CLUSTER_NODES: 'a.example:7000,10.0.0.2:7001' };
    expect(clusterNodesOf(target)).toEqual([
      { host: 'a.example', port: 7000 },
      { host: '10.0.0.2', port: 7001 },
    ]);
    const redis = connectRedis(target, { lazyConnect: true, connectionName: 'test', enableOfflineQueue: false, enableAutoPipelining: true });
    expect(redis).toBeInstanceOf(Cluster);
    expect(isCluster(redis)).toBe(true);
    const { options } = redis as Cluster;
    expect(options.redisOptions).toMatchObject({ username: 'svc', password: 'p@ss', tls: {}, connectionName: 'test' });
    // Cluster-level options stay at the cluster level, where ioredis reads them.
    expect(options).toMatchObject({ enableOfflineQueue: false, enableAutoPipelining: true, lazyConnect: true });
    redis.disconnect();
  });
});
