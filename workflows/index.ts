// The workflow bundle's entry point: every workflow the pipeline worker serves.
export { trainAndPromote, statusQuery } from './train-and-promote';
