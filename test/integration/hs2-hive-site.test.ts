import t from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort, startZk } from '../helpers/zk.js'
import { connectTestZk } from '../helpers/zk-client.js'
import { startHs2Stub } from '../helpers/hs2-stub.js'
import { registerHs2 } from '../helpers/hs2-register.js'
import { queryBackendId } from '../helpers/hive-client.js'
import { waitFor } from '../helpers/proxy.js'

// Issue 15 point 6 through the real executable (npm test builds dist/ first): one hive-site.xml
// with HiveServer2's ZooKeeper discovery keys (the Hive on MR3 HA set-up: several HS2 under
// hiveserver2-mr3), `--hive-site` + `--hs2-listen` and no JDBC URL. Clients reach the instances
// registered there, and both the start log and `check` name the keys the URL came from.

const BIN = fileURLToPath(new URL('../../bin/hive-ha-proxy', import.meta.url))

const zk = await startZk()
t.teardown(() => zk.close())
const writer = await connectTestZk(zk.connectString)
t.teardown(() => writer.close())

const [host, port] = zk.connectString.split(':') as [string, string]
const dir = mkdtempSync(join(tmpdir(), 'hhp-hs2-site-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
const site = join(dir, 'hive-site.xml')
// the quorum host without a port: hive.zookeeper.client.port supplies it, as Hive does
writeFileSync(
  site,
  `<?xml version="1.0"?>
<configuration>
  <property><name>hive.server2.support.dynamic.service.discovery</name><value>true</value></property>
  <property><name>hive.zookeeper.quorum</name><value>${host}</value></property>
  <property><name>hive.zookeeper.client.port</name><value>${port}</value></property>
  <property><name>hive.server2.zookeeper.namespace</name><value>hiveserver2-mr3</value></property>
  <property><name>hive.server2.authentication</name><value>KERBEROS</value></property>
  <property><name>hive.server2.authentication.kerberos.principal</name><value>hive/_HOST@EXAMPLE.COM</value></property>
</configuration>
`,
)
const URL_FROM_SITE = `jdbc:hive2://${host}:${port}/;serviceDiscoveryMode=zooKeeper;zooKeeperNamespace=hiveserver2-mr3`

t.test('check names the URL built from hive-site.xml and the keys it came from', async (t) => {
  const r = spawnSync(process.execPath, [BIN, 'check', '--hive-site', site, '--hs2-listen', '0'], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '' },
  })
  t.equal(r.status, 0, r.stderr)
  t.match(r.stdout, `configuration OK (sources, later wins: defaults < hive-site:${site} < flags)`)
  t.match(
    r.stdout,
    `  JDBC URL ${URL_FROM_SITE} built from ${site}: hive.server2.support.dynamic.service.discovery=true, hive.zookeeper.quorum=${host}, hive.zookeeper.client.port=${port}, hive.server2.active.passive.ha.enable (not set: false), hive.server2.zookeeper.namespace=hiveserver2-mr3`,
  )
  t.match(r.stdout, /Kerberos: hive\/_HOST@EXAMPLE\.COM \(from .*\) is a per-host principal/)
})

t.test('clients reach the HiveServer2 instances the hive-site.xml describes', async (t) => {
  const stubs = [await startHs2Stub({ id: 'a' }), await startHs2Stub({ id: 'b' })]
  for (const s of stubs) {
    t.teardown(() => s.close())
    await registerHs2(writer, 'hiveserver2-mr3', s)
  }
  const hs2Port = await freePort()
  const proc = spawn(
    process.execPath,
    [
      BIN,
      '--hive-site',
      site,
      '--hs2-listen',
      `127.0.0.1:${hs2Port}`,
      '--hs2-policy',
      'round-robin',
      '--admin-listen',
      '127.0.0.1:0',
    ],
    { env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  const exit = once(proc, 'exit')
  t.teardown(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL')
  })
  const lines: Record<string, unknown>[] = []
  let buf = ''
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString()
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      lines.push(JSON.parse(buf.slice(0, i)) as Record<string, unknown>)
      buf = buf.slice(i + 1)
    }
  })
  let stderr = ''
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
  await waitFor(
    'started',
    () => lines.some((l) => l.msg === 'hive-ha-proxy started') || proc.exitCode !== null,
    20_000,
  )
  t.equal(proc.exitCode, null, stderr)
  const listening = lines.find((l) => l.msg === 'route listening')
  t.match(listening, {
    route: 'hs2',
    target: URL_FROM_SITE,
    targetFrom: new RegExp(
      `^${site.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: hive\\.server2\\.support\\.dynamic\\.service\\.discovery=true, .*hive\\.server2\\.zookeeper\\.namespace=hiveserver2-mr3`,
    ),
  })
  await waitFor('a ready route', () =>
    lines.some((l) => l.msg === 'route ready (first discovery read)'),
  )
  const got = [
    await queryBackendId({ host: '127.0.0.1', port: hs2Port }),
    await queryBackendId({ host: '127.0.0.1', port: hs2Port }),
  ].sort()
  t.same(got, ['a', 'b'], 'both registered instances serve through the proxy')
  t.notOk(
    lines.some((l) => typeof l.route === 'string' && String(l.route).startsWith('metastore')),
    'the file sets no metastore URIs: no metastore route',
  )
  proc.kill('SIGTERM')
  t.same((await exit)[0], 0)
})
