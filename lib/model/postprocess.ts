/** A class and its probability, as the API returns it. */
export interface Prediction {
  label: string;
  probability: number;
}

/** Numerically stable softmax (subtracts the max so exp never overflows). */
export function softmax(logits: ArrayLike<number>): Float64Array {
  const out = new Float64Array(logits.length);
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i] ?? -Infinity);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    const e = Math.exp((logits[i] ?? -Infinity) - max);
    out[i] = e;
    sum += e;
  }
  for (let i = 0; i < out.length; i++) out[i] = (out[i] ?? 0) / sum;
  return out;
}

/** The k most probable labels, descending; ties keep class order so results are stable. */
export function topK(probabilities: ArrayLike<number>, labels: readonly string[], k: number): Prediction[] {
  const order = Array.from({ length: probabilities.length }, (_, i) => i);
  order.sort((a, b) => (probabilities[b] ?? 0) - (probabilities[a] ?? 0) || a - b);
  return order.slice(0, k).map((i) => ({ label: labels[i] ?? `class_${i}`, probability: probabilities[i] ?? 0 }));
}
