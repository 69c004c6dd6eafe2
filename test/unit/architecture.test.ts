import t from 'tap'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

// Enforces the layering rules of design.md "Shape" on the real source tree.
const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src')

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n)
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : []
  })
}

const all = files(SRC)
const rel = (p: string) => relative(SRC, p)
/** local imports of a module, as src-relative paths (type-only imports included: they still couple) */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8')
  const out: string[] = []
  for (const m of text.matchAll(/^(?:import|export)\s[^'"]*?from\s+'(\.{1,2}\/[^']+)'/gm)) {
    out.push(rel(resolve(dirname(file), m[1]!.replace(/\.js$/, '.ts'))))
  }
  return out
}
const graph = new Map(all.map((f) => [rel(f), importsOf(f)]))

t.test('every local import resolves to a file', async (t) => {
  for (const [from, tos] of graph) for (const to of tos) t.ok(graph.has(to), `${from} -> ${to}`)
})

t.test('no import cycles', async (t) => {
  const state = new Map<string, 'visiting' | 'done'>()
  const cycles: string[] = []
  const visit = (n: string, path: string[]): void => {
    if (state.get(n) === 'done') return
    if (state.get(n) === 'visiting') {
      cycles.push([...path.slice(path.indexOf(n)), n].join(' -> '))
      return
    }
    state.set(n, 'visiting')
    for (const m of graph.get(n) ?? []) visit(m, [...path, n])
    state.set(n, 'done')
  }
  for (const n of graph.keys()) visit(n, [])
  t.same(cycles, [])
})

t.test('lower layers never import routes, admin, proxy or cli', async (t) => {
  const lower = /^(backends|discovery|balancing|net|thrift|http)\//
  const upper = /^(routes|admin)\/|^(proxy|cli)\.ts$/
  for (const [from, tos] of graph) {
    if (!lower.test(from)) continue
    for (const to of tos) t.notOk(upper.test(to), `${from} must not import ${to}`)
  }
})

t.test('no explicit any in src/', async (t) => {
  for (const f of all) {
    const code = readFileSync(f, 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '')
    t.notMatch(code, /:\s*any\b|<any>|\bas any\b|any\[\]/, rel(f))
  }
})
