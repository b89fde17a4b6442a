import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { searchAttributeSpecs } from './search-attributes';

describe('lifecycle search attributes', () => {
  it('are the ones the local stack registers on its Temporal dev server (infra/local/stackctl/config.py)', () => {
    const config = readFileSync(join(__dirname, '../../infra/local/stackctl/config.py'), 'utf8');
    const listed = /LIFECYCLE_SEARCH_ATTRIBUTES = \(([^)]*)\)/.exec(config)?.[1] ?? '';
    expect([...listed.matchAll(/'([^']+)'/g)].map((m) => m[1]).sort()).toEqual(searchAttributeSpecs().sort());
  });

  it('are the ones the docker-compose stack registers on its namespace (infra/docker/temporal/create-namespace.sh)', () => {
    const script = readFileSync(join(__dirname, '../../infra/docker/temporal/create-namespace.sh'), 'utf8');
    const listed = /LIFECYCLE_SEARCH_ATTRIBUTES="([^"]*)"/.exec(script)?.[1] ?? '';
    expect(listed.split(/\s+/).filter(Boolean).sort()).toEqual(searchAttributeSpecs().sort());
  });
});
