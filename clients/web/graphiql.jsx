// GraphiQL served by Racewire itself: queries over HTTP, subscriptions over graphql-ws, no CDN.
import React from 'react';
import { createRoot } from 'react-dom/client';
import { GraphiQL } from 'graphiql';
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import 'graphiql/graphiql.css';

const endpoint = new URL('/graphql', window.location.href).href;
const fetcher = createGraphiQLFetcher({ url: endpoint, subscriptionUrl: endpoint.replace(/^http/, 'ws') });
// A shared link carries its operation after '#' (GET /graphql?query=… is a GraphQL request, not this page).
const params = new URLSearchParams(window.location.hash.slice(1));

createRoot(document.getElementById('graphiql')).render(
  <GraphiQL
    fetcher={fetcher}
    query={params.get('query') ?? undefined}
    defaultHeaders={params.get('headers') ?? undefined}
    defaultEditorToolsVisibility
  />,
);
