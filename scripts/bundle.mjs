#!/usr/bin/env node
// Bundles the command line into dist/hive-ha-proxy.js (part of `npm run build`): one entry file and
// a few chunks under dist/chunks/ for what is imported on demand (status, drain, check, admin API).
// Why: resolving and compiling ~400 files of fastify, pino, prom-client and the proxy took a third
// of start-up and ~15 MiB of an idle process (docs/benchmarks.md, "Start-up and idle"); one file
// is read and compiled once. The library entry (dist/index.js) stays tsc's unbundled output.
//
// Traps:
// - packages loaded through src/lazy.ts stay outside the bundle on purpose: they are `require`d
//   from node_modules at run time, only by the configurations that need them (http-parser-js
//   for HTTP routes too).
// - the entry must sit directly in dist/: src/cli.ts finds ../package.json relative to itself, and
//   src/thrift/binary-wasm.ts finds binary-scan.wasm relative to its own chunk.
// - bundled CommonJS packages call `require` for Node built-ins; an ES module has none, so the
//   banner makes one.
import { rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
// chunk names carry content hashes: without this, every rebuild would leave the previous ones
rmSync(join(root, 'dist/chunks'), { recursive: true, force: true })
const result = await build({
  absWorkingDir: root,
  entryPoints: { 'hive-ha-proxy': 'src/cli.ts' },
  outdir: 'dist',
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  legalComments: 'none',
  banner: {
    js: "import { createRequire as __hhpRequire } from 'node:module'; const require = __hhpRequire(import.meta.url);",
  },
  metafile: true,
  logLevel: 'warning',
})
const outputs = Object.entries(result.metafile.outputs)
const total = outputs.reduce((n, [, o]) => n + o.bytes, 0)
process.stdout.write(`bundle: src/cli.ts -> dist/hive-ha-proxy.js (+${outputs.length - 1} chunks, ${(total / 1024).toFixed(0)} KiB)\n`)
