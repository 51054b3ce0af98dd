/** The targets RESULTS.md judges the figures against (issue 9's benchmark section and the earlier ones). */
export const TARGETS = {
  /** p99 acknowledgement at half the maximum sustained rate, ms. */
  p99AckMs: 20,
  /** Sustained delivery (acknowledged → signal taken) over raw signal-with-start, same concurrency. */
  deliveryRatio: 0.9,
  /** A burst acknowledged at least this fast (callbacks/s), with no non-2xx answer. */
  burstAckPerSecond: 1_000,
  /** The HTTP server's CPU per callback, ms. */
  serverCpuPerCallbackMs: 1,
  /** `npm run dev` with its inbox over the direct hand-off: no worse. */
  devInboxRatio: 1,
  /** readCallback per callback, µs. */
  readCallbackUs: 50,
  /** A worker's RSS holding its population, bytes. */
  workerRssBytes: 512e6,
};
