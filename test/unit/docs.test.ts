import t from 'tap'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { AdminCodes } from '../../src/admin/app.js'
import { HELP_TEXT, loadConfig } from '../../src/config/load.js'
import { drainHelp } from '../../src/drain-cmd.js'
import { ErrorCodes } from '../../src/errors.js'
import { STATUS_HELP } from '../../src/status.js'
import { makeCa } from '../helpers/certs.js'

// The docs describe the product as it is: every flag, variable and YAML key that `--help` (and the
// operator commands' `--help`) prints has a place in docs/configuration.md, every error code in
// docs/operations.md, every YAML example there loads, and every relative link of README.md and
// docs/*.md leads to an existing file and, for a #fragment into Markdown, to an existing heading.

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const read = (path: string): string => readFileSync(resolve(ROOT, path), 'utf8')

const MARKDOWN = ['README.md', ...readdirSync(join(ROOT, 'docs')).map((f) => `docs/${f}`)].filter(
  (f) => f.endsWith('.md'),
)
const HELP_TEXTS = [HELP_TEXT, STATUS_HELP, drainHelp('drain'), drainHelp('undrain')]
const EXAMPLE_HIVE_SITE = `<configuration>
  <property><name>hive.server2.support.dynamic.service.discovery</name><value>true</value></property>
  <property><name>hive.zookeeper.quorum</name><value>zk1,zk2,zk3</value></property>
  <property><name>hive.server2.zookeeper.namespace</name><value>hiveserver2-mr3</value></property>
</configuration>`
/** words in the help text that look like flags but stand for "a flag" in general */
const NOT_FLAGS = new Set(['--flag'])

/** Fenced code blocks out, so neither their links nor their `#` lines count as Markdown. */
function prose(markdown: string): string {
  return markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '')
}

/** Everything written between backticks, where docs name flags, variables and keys. */
function codeSpans(markdown: string): string[] {
  return [...markdown.matchAll(/`([^`\n]+)`/g)].map((m) => m[1] ?? '')
}

function helpFlags(texts: readonly string[]): string[] {
  const found = texts.flatMap((text) =>
    [...text.matchAll(/(?<![\w-])(--[a-z][a-z0-9-]*|-[a-zA-Z])(?![\w-])/g)].map((m) => m[1] ?? ''),
  )
  return [...new Set(found)].filter((f) => !NOT_FLAGS.has(f))
}

function helpVariables(texts: readonly string[]): string[] {
  const found = texts.flatMap((text) =>
    [...text.matchAll(/\bHIVE_HA_PROXY_[A-Z][A-Z0-9_]*\b/g)].map((m) => m[0]),
  )
  return [...new Set(found)]
}

/** The YAML keys of the help's config-file example (comments included: they name keys too). */
function helpYamlKeys(help: string): string[] {
  const start = help.indexOf('Config file (YAML')
  const end = help.indexOf('\n\n', start)
  const lines = help.slice(help.indexOf('\n', start) + 1, end).split('\n')
  const keys = lines.flatMap((line) => {
    const bare = line.replace(/"[^"]*"/g, '""').replace(/[a-z0-9]+:\/\//g, '')
    return [...bare.matchAll(/([A-Za-z][A-Za-z0-9]*):(?=\s|$)/g)].map((m) => m[1] ?? '')
  })
  return [...new Set(keys)]
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to "-", repeats numbered. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>()
  const out = new Set<string>()
  for (const m of prose(markdown).matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const text = (m[1] ?? '').replace(/`/g, '').replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    const base = text
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-')
    const n = seen.get(base) ?? 0
    seen.set(base, n + 1)
    out.add(n === 0 ? base : `${base}-${n}`)
  }
  return out
}

interface Link {
  file: string
  target: string
}

function relativeLinks(file: string): Link[] {
  const text = prose(read(file))
  return [...text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)]
    .map((m) => m[1] ?? '')
    .filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target))
    .map((target) => ({ file, target }))
}

/** Why a relative link does not resolve, or undefined when it does. */
function brokenLink({ file, target }: Link): string | undefined {
  const hash = target.indexOf('#')
  const path = hash === -1 ? target : target.slice(0, hash)
  const fragment = hash === -1 ? undefined : decodeURIComponent(target.slice(hash + 1))
  const full = path === '' ? resolve(ROOT, file) : resolve(ROOT, dirname(file), path)
  if (!existsSync(full)) return `${relative(ROOT, full)} does not exist`
  if (fragment === undefined || !full.endsWith('.md')) return undefined
  const known = anchors(readFileSync(full, 'utf8'))
  return known.has(fragment) ? undefined : `${relative(ROOT, full)} has no heading #${fragment}`
}

const configuration = read('docs/configuration.md')
const configCode = codeSpans(configuration)

t.test('the help text yields the vocabulary the checks below use', async (t) => {
  // guards the extraction itself: an empty list would make every check below pass
  const flags = helpFlags(HELP_TEXTS)
  for (const f of ['--hs2', '--log-format', '--admin', '-h', '--version'])
    t.ok(flags.includes(f), `${f} is found in --help`)
  t.notOk(flags.includes('--flag'), 'the placeholder --flag is not taken for a flag')
  const vars = helpVariables(HELP_TEXTS)
  for (const v of ['HIVE_HA_PROXY_HS2', 'HIVE_HA_PROXY_ADMIN_TOKEN', 'HIVE_HA_PROXY_ADMIN_URL'])
    t.ok(vars.includes(v), `${v} is found in --help`)
  const keys = helpYamlKeys(HELP_TEXT)
  for (const k of ['logFormat', 'probeIntervalMs', 'digestAuth', 'tcpIo', 'maxReplayBytes'])
    t.ok(keys.includes(k), `YAML key ${k} is found in --help`)
  t.notOk(keys.includes('jdbc') || keys.includes('thrift'), 'URL schemes are not taken for keys')
})

t.test('every flag of --help appears in docs/configuration.md', async (t) => {
  for (const flag of helpFlags(HELP_TEXTS)) {
    const named = configCode.some((code) => code === flag || code.startsWith(`${flag} `))
    t.ok(named, `${flag} is named in docs/configuration.md`)
  }
})

t.test('every environment variable of --help appears in docs/configuration.md', async (t) => {
  for (const name of helpVariables(HELP_TEXTS))
    t.ok(configCode.includes(name), `${name} is named in docs/configuration.md`)
})

t.test('every YAML key of --help appears in docs/configuration.md', async (t) => {
  for (const key of helpYamlKeys(HELP_TEXT)) {
    const named = configCode.some((code) => new RegExp(`(^|[.\\s])${key}(?=$|[.:\\s])`).test(code))
    t.ok(named, `${key} is named in docs/configuration.md`)
  }
})

t.test(
  'every YAML example in docs/configuration.md, docs/tls.md and the README is a valid config',
  async (t) => {
    const blocks = ['README.md', 'docs/configuration.md', 'docs/tls.md'].flatMap((file) =>
      [...read(file).matchAll(/^```yaml\n([\s\S]*?)^```$/gm)].map((m) => ({ file, yaml: m[1] })),
    )
    t.ok(blocks.length >= 3, 'examples found')
    // the PEM files an example names stand in as test certificates: a .key file is the key
    const ca = makeCa(t)
    const pair = ca.issue('example', ['localhost'])
    const pem = (path: string): string =>
      path.endsWith('.key')
        ? ca.read(pair.key)
        : path.endsWith('ca.pem')
          ? ca.read(ca.ca)
          : ca.read(pair.cert)
    for (const [i, { file, yaml }] of blocks.entries()) {
      // an example naming a hive-site.xml gets one that describes HiveServer2's registration
      const load = () =>
        loadConfig({
          argv: ['--config', 'example.yaml'],
          env: {},
          readFile: (path) =>
            path === 'example.yaml'
              ? (yaml ?? '')
              : path.endsWith('.xml')
                ? EXAMPLE_HIVE_SITE
                : pem(path),
        })
      t.doesNotThrow(load, `${file}, YAML example ${i + 1} loads`)
    }
  },
)

t.test('every error code appears in docs/operations.md', async (t) => {
  const operations = codeSpans(read('docs/operations.md'))
  for (const code of new Set([...Object.values(ErrorCodes), ...Object.values(AdminCodes)]))
    t.ok(operations.includes(code), `${code} is listed in docs/operations.md`)
})

t.test('every relative link in README.md and docs/ resolves', async (t) => {
  const links = MARKDOWN.flatMap(relativeLinks)
  t.ok(links.length > 20, 'links found')
  for (const link of links) {
    const why = brokenLink(link)
    t.equal(why, undefined, `${link.file}: ${link.target}`)
  }
})

t.test('heading anchors follow GitHub', async (t) => {
  const md =
    '# A\n## hive-site.xml\n### Node.js lines\n## `zookeeper` keys\n## A\n```\n# not\n```\n'
  t.same([...anchors(md)], ['a', 'hive-sitexml', 'nodejs-lines', 'zookeeper-keys', 'a-1'])
})
