// jstat ships no types and has no @types package: only what statistics.ts uses.
declare module 'jstat' {
  export const jStat: {
    chisquare: { cdf(x: number, degreesOfFreedom: number): number };
  };
}
