/** Shapes of the MLflow REST API objects Lifecycle reads (only the fields it uses). */
export interface KeyValue {
  key: string;
  value: string;
}

export interface Experiment {
  experiment_id: string;
  name: string;
  artifact_location?: string;
}

export interface Metric {
  key: string;
  value: number;
  timestamp: number;
  step?: number;
}

export interface Run {
  info: {
    run_id: string;
    experiment_id: string;
    run_name?: string;
    status: string;
    artifact_uri: string;
  };
  data: {
    metrics?: Metric[];
    params?: KeyValue[];
    tags?: KeyValue[];
  };
  inputs?: { dataset_inputs?: DatasetInput[]; model_inputs?: { model_id: string }[] };
  /** MLflow 3: the logged models this run produced ("Logged models" on the run page). */
  outputs?: { model_outputs?: { model_id: string; step?: number }[] };
}

/** An MLflow 3 logged model (`models:/m-...`). */
export interface LoggedModel {
  info: {
    model_id: string;
    name: string;
    source_run_id?: string;
    experiment_id?: string;
    artifact_uri: string;
    status?: string;
    model_type?: string;
  };
}

export interface DatasetInput {
  tags?: KeyValue[];
  dataset: {
    name: string;
    digest: string;
    source_type: string;
    source: string;
    schema?: string;
    profile?: string;
  };
}

export interface ModelVersion {
  name: string;
  version: string;
  source: string;
  run_id?: string;
  status?: string;
  tags?: KeyValue[];
  aliases?: string[];
  description?: string;
  /** Milliseconds since the epoch. */
  creation_timestamp?: number;
}

export interface RegisteredModel {
  name: string;
  description?: string;
  aliases?: { alias: string; version: string }[];
  tags?: KeyValue[];
}
