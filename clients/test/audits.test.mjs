// The GraphQL over HTTP spec's own audits (graphql-http) against the live server: every MUST passes.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { serverAudits } from 'graphql-http';

import { GRAPHQL_HTTP } from './support.mjs';

for (const audit of serverAudits({ url: GRAPHQL_HTTP, fetchFn: fetch })) {
  const must = audit.name.startsWith('MUST');
  test(audit.name, async (t) => {
    const result = await audit.fn();
    if (result.status === 'ok') return;
    const why = `${result.reason}${result.response ? ` (HTTP ${result.response.status})` : ''}`;
    if (must) assert.fail(why);
    t.diagnostic(`${result.status}: ${why}`); // SHOULD and MAY: reported, not required
  });
}
