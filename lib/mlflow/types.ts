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
  inputs?: { dataset_inputs?: DatasetInput[] };
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
}

export interface RegisteredModel {
  name: string;
  aliases?: { alias: string; version: string }[];
  tags?: KeyValue[];
}
