/**
 * The statistics of the live analysis, pure so they are unit-tested and the
 * workflow bundle may import them. The normal quantile comes from
 * simple-statistics; the formulas below are the textbook ones, named.
 */
import { jStat } from 'jstat';
import { errorFunction, probit } from 'simple-statistics';

/** P(Z <= z) for a standard normal Z, from the library's erf (accurate to ~1e-9; its table-based CDF stops at 0.999). */
export function normalCdf(z: number): number {
  return 0.5 * (1 + errorFunction(z / Math.SQRT2));
}

/**
 * The one-sided critical value z such that P(Z <= z) = confidence. The
 * library's probit is a closed-form approximation (1.6434 for 0.95); two
 * Newton steps on normalCdf make it exact to display precision (1.6449).
 */
export function zFor(confidence: number): number {
  let z = probit(confidence);
  for (let i = 0; i < 3; i += 1) z -= (normalCdf(z) - confidence) / (Math.exp((-z * z) / 2) / Math.sqrt(2 * Math.PI));
  return z;
}

/**
 * Wilson score interval of a proportion (successes of n) with one-sided
 * confidence on each bound. Unlike the normal ("Wald") interval it stays
 * inside [0, 1] and behaves at proportions near 0 or 1, where agreement
 * and error ratios live. n = 0 gives the uninformative [0, 1].
 */
export function wilsonInterval(successes: number, n: number, confidence: number): { low: number; high: number } {
  if (n <= 0) return { low: 0, high: 1 };
  const z = zFor(confidence);
  const p = successes / n;
  const z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = ((z / (1 + z2 / n)) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n)));
  return { low: Math.max(0, centre - half), high: Math.min(1, centre + half) };
}

/**
 * One-sided two-proportion z-test of H1: p1 > p2 + margin (the candidate's
 * error ratio p1 worse than the champion's p2 by more than `margin`), with
 * the unpooled standard error (the null hypothesis is not p1 = p2 when a
 * margin is allowed). Returns z and its one-sided p-value; when neither
 * side saw an error the variance is zero and there is no evidence: p = 1.
 */
export function twoProportionZTest(x1: number, n1: number, x2: number, n2: number, margin = 0): { z: number; pValue: number } {
  if (n1 <= 0 || n2 <= 0) return { z: 0, pValue: 1 };
  const p1 = x1 / n1;
  const p2 = x2 / n2;
  const se = Math.sqrt((p1 * (1 - p1)) / n1 + (p2 * (1 - p2)) / n2);
  const diff = p1 - p2 - margin;
  if (se === 0) return diff > 0 ? { z: Infinity, pValue: 0 } : { z: diff < 0 ? -Infinity : 0, pValue: 1 };
  const z = diff / se;
  return { z, pValue: 1 - normalCdf(z) };
}

/**
 * Jensen-Shannon distance (the square root of the divergence, base 2, so
 * 0..1) between two count vectors over the same classes: symmetric, finite
 * when a class is missing on one side (unlike KL), and a metric.
 */
export function jensenShannonDistance(a: Record<string, number>, b: Record<string, number>): number {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
  const sa = keys.reduce((s, k) => s + (a[k] ?? 0), 0);
  const sb = keys.reduce((s, k) => s + (b[k] ?? 0), 0);
  if (sa <= 0 || sb <= 0) return NaN;
  let divergence = 0;
  for (const k of keys) {
    const p = (a[k] ?? 0) / sa;
    const q = (b[k] ?? 0) / sb;
    const m = (p + q) / 2;
    if (p > 0) divergence += 0.5 * p * Math.log2(p / m);
    if (q > 0) divergence += 0.5 * q * Math.log2(q / m);
  }
  return Math.sqrt(Math.max(0, divergence));
}

/**
 * Pearson's chi-square test of homogeneity: do two count vectors over the
 * same classes come from one distribution? Classes neither side predicted
 * are dropped (they add no degree of freedom). The p-value comes from
 * jstat's chi-square CDF. With fewer than two classes seen there is nothing
 * to test: p = 1.
 */
export function chiSquareHomogeneity(a: Record<string, number>, b: Record<string, number>): { chi2: number; df: number; pValue: number } {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => (a[k] ?? 0) + (b[k] ?? 0) > 0);
  const sa = keys.reduce((s, k) => s + (a[k] ?? 0), 0);
  const sb = keys.reduce((s, k) => s + (b[k] ?? 0), 0);
  const df = keys.length - 1;
  if (sa <= 0 || sb <= 0 || df < 1) return { chi2: 0, df: Math.max(0, df), pValue: 1 };
  const total = sa + sb;
  let chi2 = 0;
  for (const k of keys) {
    const column = (a[k] ?? 0) + (b[k] ?? 0);
    for (const [observed, rowTotal] of [[a[k] ?? 0, sa], [b[k] ?? 0, sb]] as const) {
      const expected = (rowTotal * column) / total;
      chi2 += ((observed - expected) ** 2) / expected;
    }
  }
  return { chi2, df, pValue: Math.max(0, 1 - jStat.chisquare.cdf(chi2, df)) };
}
