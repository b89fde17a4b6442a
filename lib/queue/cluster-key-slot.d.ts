// cluster-key-slot (ioredis's own slot function) ships no types: its one export, as the tests use it.
declare module 'cluster-key-slot' {
  /** The Redis Cluster slot (0..16383) of `key`, honouring its hash tag. */
  export default function calculateSlot(key: string | Buffer): number;
}
