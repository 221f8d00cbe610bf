// The GraphQL over HTTP spec's own audits (graphql-http) against the live server: every MUST and
// every SHOULD passes (a SHOULD that regresses fails the run); a MAY is reported, not required.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { serverAudits } from 'graphql-http';

import { GRAPHQL_HTTP } from './support.mjs';

for (const audit of serverAudits({ url: GRAPHQL_HTTP, fetchFn: fetch })) {
  const required = audit.name.startsWith('MUST') || audit.name.startsWith('SHOULD');
  test(audit.name, async (t) => {
    const result = await audit.fn();
    if (result.status === 'ok') return;
    const why = `${result.reason}${result.response ? ` (HTTP ${result.response.status})` : ''}`;
    if (required) assert.fail(why);
    t.diagnostic(`${result.status}: ${why}`); // MAY: reported, not required
  });
}
