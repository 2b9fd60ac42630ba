// Bundles the agent into one self-contained CommonJS file: it is sent through the
// ssh session at start-up, and the remote host has no node_modules.
import { build } from 'esbuild';

await build({
  entryPoints: ['src/agent/agent-main.ts'],
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  minify: true,
  legalComments: 'none',
  outfile: 'dist/agent.bundle.cjs',
  logLevel: 'warning',
});
