/**
 * `tls:` and `backendTls:` of a route (any source) -> validated TLS settings with their PEM files
 * read. Files are read here, by the loader, so a start and every reload read them afresh, and a
 * bad file or a certificate that does not match its key is a config problem: at start the proxy
 * does not listen, on reload the running configuration is kept (design decision 13).
 *
 * Contract: never throws for bad input; problems name the key that set the file and the fix.
 * Trap: node:tls is loaded here only when a route has TLS settings (a `lazy` require), so a
 * proxy without TLS pays nothing for it at start.
 */
import type tls from 'node:tls'
import { errorMessage, type ConfigProblem } from '../errors.js'
import { lazy } from '../lazy.js'
import { fieldKey, type FieldGetter } from './build-common.js'
import { oneOf, show, type Check } from './checks.js'
import {
  BACKEND_TLS_MODES,
  PemFile,
  TLS_MIN_VERSIONS,
  type BackendTlsConfig,
  type BackendTlsMode,
  type FrontTlsConfig,
} from './types.js'
import type { RawRoute } from './yaml-file.js'

const tlsLib = lazy<typeof tls>('node:tls')

/** How the loader reaches the files a TLS setting names (injectable for tests). */
export interface TlsFiles {
  /** utf-8; may throw (reported against the key that named the file) */
  readFile(path: string): string
  /** permission bits of the file, or undefined when unknown (no warning then) */
  fileMode?(path: string): number | undefined
}

/** Everything a TLS build appends to: problems stop the load, warnings are logged. */
export interface TlsCtx {
  files: TlsFiles
  problems: ConfigProblem[]
  warnings: string[]
}

export const FRONT_TLS_FIELDS = ['tls.cert', 'tls.key', 'tls.clientCa', 'tls.minVersion'] as const
export const BACKEND_TLS_FIELDS = [
  'backendTls.mode',
  'backendTls.ca',
  'backendTls.serverName',
  'backendTls.cert',
  'backendTls.key',
  'backendTls.insecureSkipVerify',
] as const

const filePath: Check<string> = (value) =>
  typeof value === 'string' && value.trim() !== ''
    ? { ok: true, value: value.trim() }
    : {
        ok: false,
        message: `${show(value)} is not a file path`,
        fix: 'write the path of a PEM file, e.g. /etc/hive-ha-proxy/tls/proxy.crt',
      }

const hostName: Check<string> = (value) =>
  typeof value === 'string' && /^[A-Za-z0-9*]([A-Za-z0-9.*-]*[A-Za-z0-9])?$/.test(value)
    ? { ok: true, value }
    : {
        ok: false,
        message: `${show(value)} is not a host name`,
        fix: 'write the name the backend certificates are issued for, e.g. hs2.example.com',
      }

const bool: Check<boolean> = (value) => {
  if (typeof value === 'boolean') return { ok: true, value }
  if (typeof value === 'string' && /^(true|false)$/i.test(value))
    return { ok: true, value: value.toLowerCase() === 'true' }
  return { ok: false, message: `${show(value)} is not true or false`, fix: 'write true or false' }
}

const PEM_CERT = '-----BEGIN CERTIFICATE-----'
const PEM_KEY = /-----BEGIN ([A-Z]+ )?PRIVATE KEY-----/

/**
 * The route's `tls:` settings, or undefined when none is set. `cert` and `key` are required
 * together; a certificate that does not belong to its key is a problem on the key.
 */
export function buildFrontTls(
  r: RawRoute,
  get: FieldGetter,
  ctx: TlsCtx,
): FrontTlsConfig | undefined {
  if (!FRONT_TLS_FIELDS.some((f) => r.fields[f] !== undefined)) return undefined
  const minVersion = get(
    'tls.minVersion',
    TLS_MIN_VERSIONS[0] ?? 'TLSv1.2',
    oneOf(TLS_MIN_VERSIONS),
  )
  const cert = readPem(r, get, 'tls.cert', 'cert', ctx)
  const key = readPem(r, get, 'tls.key', 'key', ctx)
  const clientCa = readPem(r, get, 'tls.clientCa', 'ca', ctx)
  for (const [field, pem] of [
    ['tls.cert', cert],
    ['tls.key', key],
  ] as const) {
    if (pem === undefined && r.fields[field] === undefined)
      ctx.problems.push({
        key: fieldKey(r, field),
        message: `a TLS front needs both tls.cert and tls.key`,
        fix: `set ${fieldKey(r, field)} to the PEM file of the proxy's ${field === 'tls.cert' ? 'certificate' : 'private key'}`,
      })
  }
  if (cert === undefined || key === undefined) return undefined
  if (!checkPair(r, 'tls.key', cert, key, ctx)) return undefined
  keyModeWarning(r, 'tls.key', key, ctx)
  return { cert, key, clientCa, minVersion }
}

/**
 * The route's `backendTls:` settings, or undefined when none is set (bytes then reach backends as
 * today). `metastore`: mode auto is refused (a metastore's registration does not say) and the
 * default mode is on; HS2 routes default to auto.
 */
export function buildBackendTls(
  r: RawRoute,
  get: FieldGetter,
  kind: 'hs2' | 'metastore',
  ctx: TlsCtx,
): BackendTlsConfig | undefined {
  if (!BACKEND_TLS_FIELDS.some((f) => r.fields[f] !== undefined)) return undefined
  const modes: readonly BackendTlsMode[] =
    kind === 'metastore' ? BACKEND_TLS_MODES.filter((m) => m !== 'auto') : BACKEND_TLS_MODES
  const mode = get<BackendTlsMode>(
    'backendTls.mode',
    kind === 'metastore' ? 'on' : 'auto',
    metastoreMode(kind, oneOf(modes)),
  )
  const serverName = get<string | undefined>('backendTls.serverName', undefined, hostName)
  const insecureSkipVerify = get('backendTls.insecureSkipVerify', false, bool)
  const ca = readPem(r, get, 'backendTls.ca', 'ca', ctx)
  const cert = readPem(r, get, 'backendTls.cert', 'cert', ctx)
  const key = readPem(r, get, 'backendTls.key', 'key', ctx)
  if ((r.fields['backendTls.cert'] === undefined) !== (r.fields['backendTls.key'] === undefined)) {
    const missing = r.fields['backendTls.cert'] === undefined ? 'backendTls.cert' : 'backendTls.key'
    ctx.problems.push({
      key: fieldKey(r, missing),
      message: 'a client certificate for backends needs both backendTls.cert and backendTls.key',
      fix: `set ${missing}, or remove the other one`,
    })
  }
  if (cert !== undefined && key !== undefined) {
    checkPair(r, 'backendTls.key', cert, key, ctx)
    keyModeWarning(r, 'backendTls.key', key, ctx)
  }
  if (insecureSkipVerify && mode !== 'off')
    ctx.warnings.push(
      `${fieldKey(r, 'backendTls.insecureSkipVerify')}: backend certificates are NOT checked on this route (anyone on the path can pose as a backend); set backendTls.ca to the cluster CA instead`,
    )
  return { mode, ca, serverName, cert, key, insecureSkipVerify }
}

function metastoreMode(
  kind: 'hs2' | 'metastore',
  check: Check<BackendTlsMode>,
): Check<BackendTlsMode> {
  return (value) => {
    if (kind === 'metastore' && typeof value === 'string' && value.toLowerCase() === 'auto')
      return {
        ok: false,
        message: "auto needs a registration that says whether TLS is on; a metastore's does not",
        fix: 'write backendTls.mode: on (the metastores use hive.metastore.use.SSL=true) or off',
      }
    return check(value)
  }
}

/** Reads the PEM file `field` names; undefined when unset or unusable (a problem then says why). */
function readPem(
  r: RawRoute,
  get: FieldGetter,
  field: string,
  what: 'cert' | 'key' | 'ca',
  ctx: TlsCtx,
): PemFile | undefined {
  const path = get<string | undefined>(field, undefined, filePath)
  if (path === undefined) return undefined
  const key = fieldKey(r, field)
  let text: string
  try {
    text = ctx.files.readFile(path)
  } catch (err) {
    ctx.problems.push({
      key,
      message: `cannot read ${path}: ${errorMessage(err)}`,
      fix: 'check the path and that the proxy user can read the file',
    })
    return undefined
  }
  const bad = pemShape(text, what)
  if (bad !== undefined) {
    ctx.problems.push({ key, message: `${path} ${bad.message}`, fix: bad.fix })
    return undefined
  }
  if (what === 'ca') {
    try {
      tlsLib().createSecureContext({ ca: text })
    } catch (err) {
      ctx.problems.push({
        key,
        message: `${path} holds no usable CA certificate: ${errorMessage(err)}`,
        fix: 'give a PEM file of CA certificates (-----BEGIN CERTIFICATE----- blocks)',
      })
      return undefined
    }
  }
  return new PemFile(path, text)
}

function pemShape(
  text: string,
  what: 'cert' | 'key' | 'ca',
): { message: string; fix: string } | undefined {
  if (what === 'key')
    return PEM_KEY.test(text)
      ? undefined
      : {
          message: 'is not a PEM private key (no -----BEGIN ... PRIVATE KEY----- line)',
          fix: 'give the unencrypted PEM key, e.g. from openssl pkey -in key.p12-or-der -out proxy.key',
        }
  if (text.includes(PEM_CERT)) return undefined
  if (what === 'ca')
    return {
      message:
        'is not a PEM file of CA certificates (a Java truststore, JKS or PKCS#12, cannot be read)',
      fix: 'export the CA certificates to PEM, e.g. keytool -exportcert -rfc -keystore truststore.jks -alias <ca> -file cluster-ca.pem, and name that file in backendTls.ca',
    }
  return {
    message: 'is not a PEM certificate (no -----BEGIN CERTIFICATE----- line)',
    fix: 'give the certificate (and its chain) in PEM, e.g. openssl x509 -in cert.der -inform der -out proxy.crt',
  }
}

/** Whether `cert` belongs to `key`; a problem on `keyField` when not. */
function checkPair(
  r: RawRoute,
  keyField: string,
  cert: PemFile,
  key: PemFile,
  ctx: TlsCtx,
): boolean {
  try {
    tlsLib().createSecureContext({ cert: cert.pem, key: key.pem })
    return true
  } catch (err) {
    ctx.problems.push({
      key: fieldKey(r, keyField),
      message: `${key.path} does not fit the certificate ${cert.path}: ${errorMessage(err)}`,
      fix: `give the private key of ${cert.path} (openssl x509 -noout -pubkey -in CERT and openssl pkey -pubout -in KEY must print the same key)`,
    })
    return false
  }
}

function keyModeWarning(r: RawRoute, field: string, key: PemFile, ctx: TlsCtx): void {
  const mode = ctx.files.fileMode?.(key.path)
  if (mode === undefined || (mode & 0o077) === 0) return
  ctx.warnings.push(
    `${fieldKey(r, field)}: the private key ${key.path} is readable by ${mode & 0o007 ? 'every local user' : 'its group'} (mode ${(mode & 0o777).toString(8).padStart(4, '0')}); run chmod 600 ${key.path}`,
  )
}
