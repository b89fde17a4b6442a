/** Every drill, in the order `npm run drills` runs them (cheap serving faults first, workflows after). */
import type { Drill } from './drill';
import { apiKill } from './faults/api-kill';
import { badRollout } from './faults/bad-rollout';
import { canaryInverted } from './faults/canary-inverted';
import { canaryPipelineKill } from './faults/canary-pipeline-kill';
import { canaryPromote } from './faults/canary-promote';
import { canaryRedisRestart } from './faults/canary-redis-restart';
import { canaryRollback } from './faults/canary-rollback';
import { corruptModel } from './faults/corrupt-model';
import { driftShift } from './faults/drift-shift';
import { feedbackLoop } from './faults/feedback-loop';
import { mlflowOutage } from './faults/mlflow-outage';
import { apiPartition, workerPartition } from './faults/partition';
import { pipelineKill } from './faults/pipeline-kill';
import { redisRestart } from './faults/redis-restart';
import { rollout } from './faults/rollout';
import { temporalRestart } from './faults/temporal-restart';
import { trainKill } from './faults/train-kill';
import { pipelineTerm, trainTerm } from './faults/graceful-stop';
import { workerKill, workerTerm } from './faults/worker-signal';

export const DRILLS: Drill[] = [workerKill, workerTerm, redisRestart, workerPartition, apiPartition, apiKill, rollout, badRollout, trainKill, pipelineKill, mlflowOutage, temporalRestart, corruptModel, pipelineTerm, trainTerm, canaryRollback, canaryInverted, canaryPromote, canaryPipelineKill, canaryRedisRestart, driftShift, feedbackLoop];
