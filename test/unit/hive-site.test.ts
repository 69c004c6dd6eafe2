import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { metastoreFields, parseHiveSiteXml, readHiveSite } from '../../src/config/hive-site.js'
import { loadConfig } from '../../src/config/load.js'
import { ConfigError, type ConfigProblem } from '../../src/errors.js'

const realFs = (p: string): string => readFileSync(p, 'utf8')

t.test('parse: values stay strings, a single property is a list (gotcha M1)', async (t) => {
  const props = parseHiveSiteXml(
    '<?xml version="1.0"?>\n<configuration>\n  <property>\n    <name>hive.metastore.port</name>\n    <value>9083</value>\n  </property>\n</configuration>\n',
  )
  t.same([...props], [['hive.metastore.port', '9083']])
  t.equal(typeof props.get('hive.metastore.port'), 'string')
})

t.test(
  'parse: trimming, entities, CDATA, comments, descriptions, last wins, skipped entries',
  async (t) => {
    const xml = `<?xml version="1.0" encoding="UTF-8"?>
<?xml-stylesheet type="text/xsl" href="configuration.xsl"?>
<!-- a comment -->
<configuration>
  <property>
    <name> hive.metastore.uris </name>
    <value>
      thrift://a:9083,thrift://b:9083
    </value>
    <description>where the metastores are &amp; more</description>
  </property>
  <property><name>x.amp</name><value>a&amp;b</value></property>
  <property><name>x.cdata</name><value><![CDATA[a<b]]></value></property>
  <property><name>x.empty</name><value/></property>
  <property><name>x.novalue</name></property>
  <property><value>no name</value></property>
  <property><name>x.twice</name><value>first</value></property>
  <property><name>x.twice</name><value>second</value><final>true</final></property>
  <property><name>x.number</name><value>007</value></property>
</configuration>`
    const props = parseHiveSiteXml(xml)
    t.same(Object.fromEntries(props), {
      'hive.metastore.uris': 'thrift://a:9083,thrift://b:9083',
      'x.amp': 'a&b',
      'x.cdata': 'a<b',
      'x.empty': '',
      'x.twice': 'second',
      'x.number': '007',
    })
  },
)

t.test('parse: empty configurations', async (t) => {
  t.same(parseHiveSiteXml('<configuration/>').size, 0)
  t.same(parseHiveSiteXml('<configuration>\n</configuration>').size, 0)
})

t.test('parse errors carry the parser message with line and column', async (t) => {
  t.throws(() => parseHiveSiteXml('<configuration>\n<property><name>x</name>\n</configuration>'), {
    message: /Expected closing tag 'property'.*\(line 3, column \d+\)/,
  })
  t.throws(() => parseHiveSiteXml('hive.metastore.uris=thrift://a:1'), { message: /line 1/ })
  t.throws(() => parseHiveSiteXml(''), { message: /Start tag expected/ })
  t.throws(() => parseHiveSiteXml('<properties><property/></properties>'), {
    message: /no <configuration> element/,
  })
})

t.test('metastoreFields: keys, aliases, implied discovery, nothing without URIs', async (t) => {
  const key = (name: string): string => `${name} (in /h.xml)`
  const props = new Map([
    ['hive.metastore.uris', 'thrift://a:1'],
    ['hive.metastore.uri.selection', 'RANDOM'],
    ['hive.zookeeper.namespace', ''],
    ['metastore.zookeeper.client.port', '2182'],
    ['hive.zookeeper.client.port', '2181'],
  ])
  t.same(metastoreFields(props, '/h.xml'), {
    uris: { value: 'thrift://a:1', key: key('hive.metastore.uris') },
    selection: { value: 'RANDOM', key: key('hive.metastore.uri.selection') },
    discovery: { value: 'static', key: key('hive.metastore.uris') },
    zooKeeperPort: { value: '2182', key: key('metastore.zookeeper.client.port') },
  })
  const zk = metastoreFields(
    new Map([
      ['metastore.thrift.uris', 'zk1'],
      ['metastore.service.discovery.mode', 'zookeeper'],
    ]),
    '/h.xml',
  )
  t.same(zk['discovery'], { value: 'zookeeper', key: key('metastore.service.discovery.mode') })
  t.same(metastoreFields(new Map([['hive.metastore.uri.selection', 'RANDOM']]), '/h.xml'), {})
  t.same(
    metastoreFields(new Map([['hive.metastore.uris', '']]), '/h.xml')['uris'],
    { value: '', key: key('hive.metastore.uris') },
    'empty URIs are kept (embedded: reported later)',
  )
})

t.test('readHiveSite with real files', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hhp-hive-site-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const good = join(dir, 'hive-site.xml')
  writeFileSync(
    good,
    '<configuration><property><name>hive.metastore.uris</name><value>thrift://h:9083</value></property></configuration>',
  )
  const bad = join(dir, 'broken.xml')
  writeFileSync(bad, '<configuration><property>')

  const problems: ConfigProblem[] = []
  const ok = readHiveSite({ value: good, key: '--hive-site' }, realFs, problems)
  t.equal(ok.loaded, true)
  t.equal(ok.fields['uris']?.value, 'thrift://h:9083')
  t.same(problems, [])

  const broken = readHiveSite({ value: bad, key: 'HIVE_HA_PROXY_HIVE_SITE' }, realFs, problems)
  t.same(broken, { loaded: false, fields: {} })
  t.match(problems, [
    {
      key: 'HIVE_HA_PROXY_HIVE_SITE',
      message: new RegExp(
        `cannot parse ${bad}: Invalid '\\[ "configuration", "property" ?\\]' found\\. \\(line 1`,
      ),
    },
  ])

  const missing: ConfigProblem[] = []
  readHiveSite({ value: join(dir, 'nope.xml'), key: '--hive-site' }, realFs, missing)
  t.match(missing, [
    { key: '--hive-site', message: /cannot read .*nope\.xml: ENOENT/, fix: /check the path/ },
  ])

  const notPath: ConfigProblem[] = []
  readHiveSite({ value: 7, key: 'hiveSite (in /c.yaml)' }, realFs, notPath)
  t.match(notPath, [{ key: 'hiveSite (in /c.yaml)', message: /path of a hive-site\.xml/ }])
})

t.test('loadConfig end to end with a real hive-site and YAML on disk', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hhp-hive-site-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const sitePath = join(dir, 'hive-site.xml')
  writeFileSync(
    sitePath,
    `<configuration>
  <property><name>hive.metastore.uris</name><value>thrift://hms1.example.com:9083,thrift://hms2.example.com:9083</value></property>
  <property><name>hive.metastore.uri.selection</name><value>RANDOM</value></property>
  <property><name>hive.zookeeper.quorum</name><value>zk1:2181</value></property>
  <property><name>hive.server2.support.dynamic.service.discovery</name><value>true</value></property>
</configuration>`,
  )
  const yamlPath = join(dir, 'proxy.yaml')
  writeFileSync(yamlPath, `hiveSite: ${sitePath}\nmetastore:\n  - name: hms\n    listen: 19083\n`)
  const cmd = loadConfig({ argv: ['--config', yamlPath], env: {}, readFile: realFs })
  if (cmd.kind !== 'run') throw new Error('expected run')
  t.same(cmd.config.hs2, [], 'no HS2 route from hive-site HS2 keys')
  t.match(cmd.config.metastore, [
    {
      name: 'hms',
      listen: { port: 19083 },
      selection: 'RANDOM',
      target: {
        kind: 'static',
        backends: [
          { host: 'hms1.example.com', port: 9083 },
          { host: 'hms2.example.com', port: 9083 },
        ],
      },
    },
  ])
  t.same(cmd.sources, ['defaults', `hive-site:${sitePath}`, `file:${yamlPath}`])

  writeFileSync(
    sitePath,
    '<configuration><property><name>hive.metastore.uris</name><value>thrift://a:1</value>',
  )
  t.throws(
    () => loadConfig({ argv: ['--config', yamlPath], env: {}, readFile: realFs }),
    ConfigError,
  )
  try {
    loadConfig({ argv: ['--config', yamlPath], env: {}, readFile: realFs })
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    t.same(
      err.problems.map((p) => p.key),
      [`hiveSite (in ${yamlPath})`],
    )
  }
})
