import { z } from 'zod';
import { msToNumber, type Duration } from '@temporalio/common/lib/time';

/** A Temporal duration: milliseconds, or an `ms`-style string such as '20 seconds' or '5m'. */
export const durationSchema = z.union([z.number().nonnegative(), z.string().min(1)]).refine(
  (value) => {
    try {
      return msToNumber(value as Duration) >= 0;
    } catch {
      return false;
    }
  },
  { message: "not a duration (milliseconds, or a string such as '30s', '5 minutes')" },
) as z.ZodType<Duration>;
