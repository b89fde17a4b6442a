// The workflow bundle's entry point: every workflow the pipeline worker serves.
// Each export's name is its workflow type.
export { trainAndPromote, progressQuery, statusQuery } from './train-and-promote';
// The user's own name for the lifecycle (`temporal workflow start --type train-and-promote`): the same function.
export { trainAndPromote as 'train-and-promote' } from './train-and-promote';
export { promoteVersion } from './promote-version';
export { checkDatasetUpdates } from './check-datasets';
export { monitorModel } from './monitor-model';
export { curateDataset } from './curate-dataset';
