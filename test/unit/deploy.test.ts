import t from 'tap'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseAllDocuments } from 'yaml'
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap'
import { Service } from 'kubernetes-models/v1/Service'
import { Deployment } from 'kubernetes-models/apps/v1/Deployment'
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget'
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor'

// The manifests in deploy/, checked offline: every object against the Kubernetes API schema
// (kubernetes-models' validators; like the API server without strict field validation they do
// not reject unknown fields, so the fields the set-ups rely on are asserted by path below), the
// configuration each one ships run through the real `hive-ha-proxy check`, and the systemd unit
// through `systemd-analyze verify` where systemd is installed.

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const BIN = join(ROOT, 'bin/hive-ha-proxy')
const TOKEN = 'deploy-test-token-0123456789'

type Obj = Record<string, unknown>
interface Validatable {
  validate(): void
}
const MODELS: Record<string, new (data: never) => Validatable> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
}

function load(file: string): Obj[] {
  const docs = parseAllDocuments(readFileSync(join(ROOT, file), 'utf8'))
  return docs.map((d) => {
    if (d.errors.length > 0) throw new Error(`${file}: ${d.errors[0]!.message}`)
    return d.toJS() as Obj
  })
}

/** a value at a dotted path; numeric parts index arrays */
function at(o: unknown, path: string): unknown {
  let cur = o
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined
    cur = (cur as Record<string, unknown>)[part]
  }
  return cur
}

/** the ConfigMap's `config.yaml` (a key with a dot, so not reachable through `at`) */
function configOf(cm: Obj | undefined): unknown {
  return (at(cm, 'data') as Obj | undefined)?.['config.yaml']
}

function byKind(objs: Obj[], kind: string): Obj[] {
  return objs.filter((o) => o['kind'] === kind)
}

/** `hive-ha-proxy check --config <the ConfigMap's config.yaml>` with the Secret's variable set */
function check(configYaml: string): { status: number | null; out: string } {
  const dir = mkdtempSync(join(tmpdir(), 'hhp-deploy-'))
  try {
    const file = join(dir, 'config.yaml')
    writeFileSync(file, configYaml)
    const r = spawnSync(process.execPath, [BIN, 'check', '--config', file], {
      env: { PATH: process.env.PATH ?? '', HIVE_HA_PROXY_ADMIN_TOKEN: TOKEN },
      encoding: 'utf8',
    })
    return { status: r.status, out: `${r.stdout}${r.stderr}` }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

for (const file of ['deploy/kubernetes/sidecar.yaml', 'deploy/kubernetes/fleet.yaml']) {
  t.test(`${file}: every object is valid against the API schema`, async (t) => {
    const objs = load(file)
    t.ok(objs.length >= 2, 'several objects')
    for (const o of objs) {
      const key = `${o['apiVersion']}/${o['kind']}`
      const Model = MODELS[key]
      t.ok(Model, `${key} is a kind this test knows`)
      if (Model === undefined) continue
      t.doesNotThrow(() => new Model(o as never).validate(), `${key} ${at(o, 'metadata.name')}`)
    }
  })

  t.test(`${file}: the ConfigMap's configuration passes hive-ha-proxy check`, async (t) => {
    const [cm] = byKind(load(file), 'ConfigMap')
    const yaml = configOf(cm)
    t.type(yaml, 'string')
    const r = check(yaml as string)
    t.equal(r.status, 0, 'hive-ha-proxy check exits 0', { output: r.out })
  })
}

t.test(
  'the schema check catches a broken manifest (the validators are really called)',
  async (t) => {
    const [, deployment] = load('deploy/kubernetes/fleet.yaml')
    const broken = structuredClone(deployment) as Obj
    ;(at(broken, 'spec.template.spec.containers.0.ports.0') as Obj)['containerPort'] = 'hs2'
    t.throws(() => new Deployment(broken as never).validate())
    const bad = check(
      'hs2:\n  - url: "jdbc:hive2://zk1:2181/;serviceDiscoveryMode=zooKeeper"\n    policy: fastest\n',
    )
    t.equal(bad.status, 2, 'check rejects a bad policy')
  },
)

t.test(
  'sidecar: a native sidecar with probes, limits, least privilege, config and token',
  async (t) => {
    const objs = load('deploy/kubernetes/sidecar.yaml')
    const [dep] = byKind(objs, 'Deployment')
    const spec = at(dep, 'spec.template.spec') as Obj
    const proxy = at(spec, 'initContainers.0') as Obj
    t.equal(proxy['name'], 'hive-ha-proxy')
    t.equal(proxy['restartPolicy'], 'Always', 'native sidecar: starts first, stops last')
    t.equal(at(proxy, 'startupProbe.httpGet.path'), '/readyz')
    t.equal(at(proxy, 'readinessProbe.httpGet.path'), '/readyz')
    t.equal(at(proxy, 'livenessProbe.httpGet.path'), '/healthz')
    for (const r of ['requests.cpu', 'requests.memory', 'limits.cpu', 'limits.memory']) {
      t.ok(at(proxy, `resources.${r}`), `resources.${r}`)
    }
    t.equal(at(spec, 'securityContext.runAsNonRoot'), true)
    t.equal(at(proxy, 'securityContext.readOnlyRootFilesystem'), true)
    t.equal(at(proxy, 'securityContext.allowPrivilegeEscalation'), false)
    t.same(at(proxy, 'securityContext.capabilities.drop'), ['ALL'])
    const env = proxy['env'] as Obj[]
    const token = env.find((e) => e['name'] === 'HIVE_HA_PROXY_ADMIN_TOKEN')
    t.ok(at(token, 'valueFrom.secretKeyRef.name'), 'the admin token comes from a Secret')
    const [cm] = byKind(objs, 'ConfigMap')
    t.equal(
      at(spec, 'volumes.0.configMap.name'),
      at(cm, 'metadata.name'),
      'config from the ConfigMap',
    )
    const config = configOf(cm) as string
    t.match(config, /listen: 127\.0\.0\.1:10000/, 'the application dials loopback')
  },
)

t.test(
  'fleet: replicas spread over nodes, a PDB, and a grace period that fits the drain',
  async (t) => {
    const objs = load('deploy/kubernetes/fleet.yaml')
    const [dep] = byKind(objs, 'Deployment')
    t.ok((at(dep, 'spec.replicas') as number) >= 2, 'at least two replicas')
    const spec = at(dep, 'spec.template.spec') as Obj
    t.equal(at(spec, 'topologySpreadConstraints.0.topologyKey'), 'kubernetes.io/hostname')
    t.equal(byKind(objs, 'PodDisruptionBudget').length, 1)
    t.equal(byKind(objs, 'ServiceMonitor').length, 1)
    const config = configOf(byKind(objs, 'ConfigMap')[0]) as string
    const graceMs = Number(/shutdownGraceMs: (\d+)/.exec(config)?.[1])
    const preStop = at(spec, 'containers.0.lifecycle.preStop.sleep.seconds') as number
    const period = at(spec, 'terminationGracePeriodSeconds') as number
    t.ok(graceMs > 0 && preStop > 0, 'a drain and a pre-stop delay are configured')
    t.ok(
      period > preStop + graceMs / 1000,
      `terminationGracePeriodSeconds ${period} covers ${preStop} s + ${graceMs} ms`,
    )
    t.equal(at(spec, 'containers.0.securityContext.readOnlyRootFilesystem'), true)
  },
)

const UNIT = 'deploy/systemd/hive-ha-proxy.service'

/** `Key=value` lines of a unit file, in order (comments and sections dropped) */
function unitKeys(text: string): [string, string][] {
  return text
    .split('\n')
    .filter((l) => /^[A-Za-z]+=/.test(l))
    .map((l) => {
      const i = l.indexOf('=')
      return [l.slice(0, i), l.slice(i + 1)]
    })
}

t.test('systemd: reload, restart, hardening, file limit', async (t) => {
  const keys = new Map(unitKeys(readFileSync(join(ROOT, UNIT), 'utf8')))
  t.match(keys.get('ExecReload'), /kill -HUP \$MAINPID/)
  t.equal(keys.get('Restart'), 'on-failure')
  for (const [k, v] of [
    ['DynamicUser', 'yes'],
    ['ProtectSystem', 'strict'],
    ['NoNewPrivileges', 'yes'],
    ['CapabilityBoundingSet', ''],
    ['PrivateTmp', 'yes'],
    ['ProtectHome', 'yes'],
  ] as const) {
    t.equal(keys.get(k), v, `${k}=${v}`)
  }
  t.ok(Number(keys.get('LimitNOFILE')) >= 65536, 'LimitNOFILE sized for many connections')
  const example = readFileSync(join(ROOT, 'deploy/systemd/config.yaml.example'), 'utf8')
  const graceMs = Number(/shutdownGraceMs: (\d+)/.exec(example)?.[1])
  t.ok(
    Number.parseInt(keys.get('TimeoutStopSec') ?? '0', 10) * 1000 > graceMs,
    'stop timeout covers the grace',
  )
  const r = check(example)
  t.equal(r.status, 0, 'the example configuration passes check', { output: r.out })
})

const analyze = ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find((p) => existsSync(p))
t.test(
  'systemd: systemd-analyze verify',
  { skip: analyze === undefined && 'systemd-analyze is not installed' },
  async (t) => {
    // verify checks that ExecStart's program exists: point it at this Node when /usr/bin/node is absent
    const dir = mkdtempSync(join(tmpdir(), 'hhp-unit-'))
    t.teardown(() => rmSync(dir, { recursive: true, force: true }))
    const unit = readFileSync(join(ROOT, UNIT), 'utf8')
    const file = join(dir, 'hive-ha-proxy.service')
    writeFileSync(
      file,
      existsSync('/usr/bin/node') ? unit : unit.replaceAll('/usr/bin/node', process.execPath),
    )
    const r = spawnSync(analyze!, ['verify', '--man=no', file], { encoding: 'utf8' })
    t.equal(r.status, 0, r.stderr)
    t.equal(r.stderr.trim(), '', 'no warning (an unknown or misspelt key is only a warning)')
  },
)
