// GraphiQL served by Racewire itself: queries over HTTP, subscriptions over graphql-ws, no CDN.
import React, { useEffect } from 'react';
import { createRoot } from 'react-dom/client';
import { GraphiQL } from 'graphiql';
import { useEditorContext } from '@graphiql/react';
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import 'graphiql/graphiql.css';

const endpoint = new URL('/graphql', window.location.href).href;
const fetcher = createGraphiQLFetcher({ url: endpoint, subscriptionUrl: endpoint.replace(/^http/, 'ws') });

// What a first visit opens on (later visits keep their own tabs): Racewire, not the stock welcome.
const TODAY = `# Racewire: live horse-racing odds over GraphQL.
# Today's races open for betting, a page at a time.
# Run with Ctrl-Enter or ▶; the Docs panel (top left) has the schema.
query OpenRaces {
  races(filter: { status: [BETTING_OPEN] }, first: 10) {
    edges {
      node {
        id name status postTime
        meeting { venue going }
        market {
          favouriteRunnerId
          bestPrices { runnerId decimal fractional }
        }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
`;
const LIVE = `# Prices as they move (graphql-ws): a snapshot, then every change.
# Put ids from the OpenRaces tab in raceIds (the demo's race "1"
# is open all day). Each event has a cursor: resubscribe with
# after: "<cursor>" and the server replays what you missed.
subscription LiveOdds {
  oddsUpdated(raceIds: ["1"], snapshot: true) {
    raceId seq cursor snapshot source
    prices { runnerId decimal fractional }
  }
}
`;
const DEFAULT_TABS = [{ query: TODAY }, { query: LIVE }];

// A shared link carries its operation after '#' (GET /graphql?query=… is a GraphQL request, not this
// page): it goes into the tab in front, on load and whenever the link changes. It is not run: a link
// must not make a click on it send a mutation with the reader's headers.
function linked() {
  const params = new URLSearchParams(window.location.hash.slice(1));
  return { query: params.get('query'), variables: params.get('variables'), headers: params.get('headers') };
}

function LinkFollower() {
  const { queryEditor, variableEditor, headerEditor } = useEditorContext({ nonNull: true });
  useEffect(() => {
    if (!queryEditor) return undefined;
    const follow = () => {
      const { query, variables, headers } = linked();
      if (query !== null && query !== queryEditor.getValue()) queryEditor.setValue(query);
      if (variables !== null) variableEditor?.setValue(variables);
      if (headers !== null) headerEditor?.setValue(headers);
    };
    follow();
    window.addEventListener('hashchange', follow);
    return () => window.removeEventListener('hashchange', follow);
  }, [queryEditor, variableEditor, headerEditor]);
  return null;
}

createRoot(document.getElementById('graphiql')).render(
  <GraphiQL
    fetcher={fetcher}
    defaultTabs={DEFAULT_TABS}
    toolbar={{ additionalComponent: LinkFollower }}
    defaultEditorToolsVisibility
  />,
);
