/**
 * A seeded pseudo-random source (mulberry32), so a simulator run is reproducible with `--seed`.
 */
export interface Random {
  /** Uniform in [0, 1). */
  next(): number;
  /** Standard normal (Box-Muller). */
  normal(): number;
}

export function createRandom(seed: number): Random {
  let state = seed >>> 0 || 0x9e3779b9;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  return {
    next,
    normal() {
      const u = Math.max(next(), Number.EPSILON);
      const v = next();
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    },
  };
}

/** z-score of the 99th percentile of the standard normal. */
const Z99 = 2.326_347_874;

/**
 * A log-normal latency sampler given its median and 99th percentile, in milliseconds.
 * p99 <= p50 gives a constant.
 */
export function logNormalSampler(random: Random, p50Ms: number, p99Ms: number): () => number {
  if (p50Ms <= 0) return () => 0;
  const mu = Math.log(p50Ms);
  const sigma = p99Ms > p50Ms ? Math.log(p99Ms / p50Ms) / Z99 : 0;
  return () => Math.exp(mu + sigma * random.normal());
}
