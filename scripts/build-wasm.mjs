#!/usr/bin/env node
// Assembles the WebAssembly text sources under src/ into dist/ with wabt (part of `npm run build`,
// so also of `npm ci`'s `prepare`). One .wat -> one .wasm beside the compiled module that loads it.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import initWabt from 'wabt'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const SOURCES = ['src/thrift/binary-scan.wat']

const wabt = await initWabt()
for (const src of SOURCES) {
  const file = join(root, src)
  const out = join(root, 'dist', relative(join(root, 'src'), file)).replace(/\.wat$/, '.wasm')
  const mod = wabt.parseWat(src, readFileSync(file, 'utf8'))
  try {
    mod.validate()
    const { buffer } = mod.toBinary({ log: false, write_debug_names: false })
    mkdirSync(dirname(out), { recursive: true })
    writeFileSync(out, buffer)
    process.stdout.write(`wasm: ${src} -> ${relative(root, out)} (${buffer.length} bytes)\n`)
  } finally {
    mod.destroy()
  }
}
