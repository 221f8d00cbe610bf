// Builds the browser assets the server serves from server/static (committed, so the server needs no Node).
import { copyFile } from 'node:fs/promises';
import { build } from 'esbuild';

const out = new URL('../server/static/', import.meta.url).pathname;
await build({
  entryPoints: { graphiql: 'web/graphiql.jsx', board: 'web/board.js' },
  outdir: out,
  bundle: true,
  minify: true,
  format: 'iife',
  target: 'es2020',
  jsx: 'automatic',
  define: { 'process.env.NODE_ENV': '"production"' },
  legalComments: 'linked',
  loader: { '.woff': 'file', '.woff2': 'file', '.ttf': 'file', '.svg': 'dataurl', '.png': 'dataurl' },
  logLevel: 'warning',
});
await copyFile('node_modules/graphiql/LICENSE', `${out}LICENSE.graphiql.txt`);
