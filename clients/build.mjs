// Builds the browser assets the server serves from server/static (committed, so the server needs no Node).
// `node build.mjs <dir>` builds into another folder instead: the tests compare it with the committed one.
import { copyFile } from 'node:fs/promises';
import { build } from 'esbuild';

const out = process.argv[2] ? `${process.argv[2].replace(/\/$/, '')}/` : new URL('../server/static/', import.meta.url).pathname;
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
