// The job runtime: keyed operators run by worker processes, checkpointed,
// restarted, rescaled and stopped with savepoints.
export { runJob, Job } from './job.js'
export type { RunJobOptions, JobEvent, JobResult, JobState } from './job.js'
export { defineJob } from './operator.js'
export type { JobDefinition, KeyedOperator, OperatorContext, WatermarkSettings } from './operator.js'
export type { Source, SourceReader, SourceRecord, SourceOpenOptions, SourcePosition } from './source.js'
export type { RestartStrategy } from './restart-strategy.js'
export { DEFAULT_RESTART_STRATEGY } from './restart-strategy.js'
export { positionRuns, resumePositions } from './positions.js'
export type { PositionRun, WorkerOperatorState } from './positions.js'
export type { WorkerHandle } from './child-worker.js'
export { loadJob } from './job-module.js'
export { withSnapshotState } from './snapshot-backend.js'
