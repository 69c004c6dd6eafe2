/**
 * `tls` and `backendTls` through loadConfig, with real PEM files made at test time: files read at
 * load, mismatched pairs and non-PEM truststores refused with the key and the fix, the first-route
 * flags and variables, hive-site's use.SSL and truststore, the private-key permission warning.
 */
import { chmodSync, copyFileSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { loadConfig, type CliCommand } from '../../src/config/load.js'
import { ConfigError } from '../../src/errors.js'
import { makeCa } from '../helpers/certs.js'

const ca = makeCa(t)
const proxy = ca.issue('proxy', ['localhost', '127.0.0.1'])
const other = ca.issue('other', ['other.example.com'])
const dir = ca.dir
const yamlPath = join(dir, 'c.yaml')

function load(argv: string[], yaml?: string, env: Record<string, string> = {}) {
  if (yaml !== undefined) writeFileSync(yamlPath, yaml)
  return loadConfig({
    argv: yaml === undefined ? argv : ['--config', yamlPath, ...argv],
    env,
    readFile: (p) => readFileSync(p, 'utf8'),
    fileMode: (p) => statSync(p).mode,
  })
}
function run(argv: string[], yaml?: string, env: Record<string, string> = {}) {
  const c = load(argv, yaml, env)
  if (c.kind !== 'run') throw new Error('not a run')
  return c as Extract<CliCommand, { kind: 'run' }>
}
function problems(argv: string[], yaml?: string): { key: string; message: string; fix: string }[] {
  try {
    load(argv, yaml)
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems]
    throw err
  }
  throw new Error('expected a ConfigError')
}

const HS2 = 'jdbc:hive2://h1:10000/'

t.test('no tls and no backendTls: nothing changes', async (t) => {
  const c = run(['--hs2', HS2, '--metastore', 'thrift://m1:9083'])
  t.equal(c.config.hs2[0]!.tls, undefined)
  t.equal(c.config.hs2[0]!.backendTls, undefined)
  t.equal(c.config.metastore[0]!.tls, undefined)
  t.equal(c.config.metastore[0]!.backendTls, undefined)
  t.same(c.warnings, [])
})

t.test('YAML tls and backendTls are read with their files', async (t) => {
  const c = run(
    [],
    `hs2:
  url: "${HS2}"
  tls: { cert: ${proxy.cert}, key: ${proxy.key}, clientCa: ${ca.ca}, minVersion: tlsv1.3 }
  backendTls: { ca: ${ca.ca}, serverName: hs2.example.com }
metastore:
  uris: thrift://m1:9083
  listen: 9084
  backendTls: { ca: ${ca.ca} }
`,
  )
  const r = c.config.hs2[0]!
  t.equal(r.tls?.cert.path, proxy.cert)
  t.match(r.tls?.cert.pem, /BEGIN CERTIFICATE/)
  t.equal(r.tls?.clientCa?.path, ca.ca)
  t.equal(r.tls?.minVersion, 'TLSv1.3')
  t.match(r.backendTls, { mode: 'auto', serverName: 'hs2.example.com', insecureSkipVerify: false })
  t.equal(c.config.metastore[0]!.backendTls?.mode, 'on', 'a metastore backendTls means on')
  t.notMatch(JSON.stringify(c.config), /PRIVATE KEY/, 'no key text in the config as JSON')
})

t.test('flags and variables set the first routes', async (t) => {
  const c = run(
    ['--hs2', HS2, '--hs2-tls-cert', proxy.cert, '--hs2-tls-key', proxy.key],
    undefined,
    {
      HIVE_HA_PROXY_METASTORE: 'thrift://m1:9083',
      HIVE_HA_PROXY_METASTORE_TLS_CERT: proxy.cert,
      HIVE_HA_PROXY_METASTORE_TLS_KEY: proxy.key,
    },
  )
  t.equal(c.config.hs2[0]!.tls?.key.path, proxy.key)
  t.equal(c.config.metastore[0]!.tls?.cert.path, proxy.cert)
})

t.test('a certificate with the wrong key is refused on the key, with the fix', async (t) => {
  const ps = problems(['--hs2', HS2, '--hs2-tls-cert', proxy.cert, '--hs2-tls-key', other.key])
  t.equal(ps.length, 1)
  t.match(ps[0], {
    key: '--hs2-tls-key',
    message: new RegExp(`${other.key} does not fit the certificate ${proxy.cert}`),
    fix: /openssl x509 -noout -pubkey/,
  })
})

t.test('half a pair, unreadable and non-PEM files are problems naming the key', async (t) => {
  t.match(problems(['--hs2', HS2, '--hs2-tls-cert', proxy.cert]), [
    { key: '--hs2-tls-key', message: /needs both tls.cert and tls.key/, fix: /set --hs2-tls-key/ },
  ])
  t.match(
    problems(['--hs2', HS2, '--hs2-tls-cert', join(dir, 'nope.crt'), '--hs2-tls-key', proxy.key]),
    [{ key: '--hs2-tls-cert', message: /cannot read/ }],
  )
  t.match(problems(['--hs2', HS2, '--hs2-tls-cert', proxy.key, '--hs2-tls-key', proxy.key]), [
    { key: '--hs2-tls-cert', message: /is not a PEM certificate/ },
  ])
  const jks = join(dir, 'truststore.jks')
  writeFileSync(jks, Buffer.from([0xfe, 0xed, 0xfe, 0xed, 0, 0, 0, 2]))
  t.match(
    problems([], `hs2: { url: "${HS2}", backendTls: { ca: ${jks}, cert: ${proxy.cert} } }\n`),
    [
      { key: /backendTls\.ca/, message: /JKS or PKCS#12/, fix: /keytool -exportcert -rfc/ },
      { key: /backendTls\.key/, message: /needs both backendTls.cert and backendTls.key/ },
    ],
  )
  t.match(problems([], `metastore: { uris: "thrift://m1:9083", backendTls: { mode: auto } }\n`), [
    { key: /metastore\.backendTls\.mode/, fix: /backendTls\.mode: on/ },
  ])
})

t.test('insecureSkipVerify and a readable private key are warnings', async (t) => {
  const loose = join(dir, 'loose.key')
  copyFileSync(proxy.key, loose)
  chmodSync(loose, 0o644)
  const c = run(
    [],
    `hs2:
  url: "${HS2}"
  tls: { cert: ${proxy.cert}, key: ${loose} }
  backendTls: { mode: on, insecureSkipVerify: true }
`,
  )
  t.equal(c.warnings.length, 2)
  t.match(c.warnings.join('\n'), /readable by every local user \(mode 0644\); run chmod 600/)
  t.match(c.warnings.join('\n'), /backend certificates are NOT checked/)
  t.same(run(['--hs2', HS2, '--hs2-tls-cert', proxy.cert, '--hs2-tls-key', proxy.key]).warnings, [])
})

t.test('hive-site: use.SSL turns backend TLS on; the truststore must be PEM', async (t) => {
  const site = (props: Record<string, string>): string => {
    const path = join(dir, 'hive-site.xml')
    writeFileSync(
      path,
      `<configuration>${Object.entries(props)
        .map(([k, v]) => `<property><name>${k}</name><value>${v}</value></property>`)
        .join('')}</configuration>`,
    )
    return path
  }
  const on = run([
    '--hive-site',
    site({
      'hive.metastore.uris': 'thrift://m1:9083',
      'hive.metastore.use.SSL': 'true',
      'hive.metastore.truststore.path': ca.ca,
    }),
  ])
  t.match(on.config.metastore[0]!.backendTls, { mode: 'on', ca: { path: ca.ca } })
  const off = run([
    '--hive-site',
    site({ 'hive.metastore.uris': 'thrift://m1:9083', 'hive.metastore.truststore.path': ca.ca }),
  ])
  t.equal(off.config.metastore[0]!.backendTls, undefined, 'a truststore alone turns nothing on')
  const jks = join(dir, 'ts.jks')
  writeFileSync(jks, Buffer.from([0xfe, 0xed, 0xfe, 0xed]))
  const ps = problems([
    '--hive-site',
    site({
      'hive.metastore.uris': 'thrift://m1:9083',
      'hive.metastore.use.SSL': 'true',
      'hive.metastore.truststore.path': jks,
    }),
  ])
  t.match(ps, [{ key: /hive\.metastore\.truststore\.path \(in /, message: /cannot be read/ }])
})
