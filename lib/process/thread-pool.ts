/**
 * libuv's thread pool size for processes that decode images with sharp (the API, the inference
 * workers), unless UV_THREADPOOL_SIZE is set. Two threads on a 2-core machine: measured with
 * `npm run bench` conditions, the default four contend with libvips's own threads and the
 * event loop (64 connections: more throughput and a shorter tail with two; README, Measured).
 * Must run before anything uses the pool: libuv sizes it on first use.
 */
export function sizeThreadPool(threads = 2): void {
  process.env.UV_THREADPOOL_SIZE ??= String(threads);
}
