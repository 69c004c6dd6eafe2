/**
 * What the proxy knows about Hive Metastore methods (hive-ha-semantics.md §6). Hive does not
 * annotate its Thrift methods, so this is the documented table: reads may be re-sent to another
 * metastore after a transport error (all metastores share one database), writes never.
 */

/** Named like reads, but they change state (mint tokens, take locks, claim queue entries). */
const GETS_THAT_WRITE = new Set([
  'get_delegation_token',
  'get_lock_materialization_rebuild',
  'find_next_compact',
  'find_next_compact2',
  'check_lock',
  'scheduled_query_poll',
])

/** Reads whose names do not start with get_/list_/show_ (fb303 included). */
const OTHER_READS = new Set([
  'fetch_partition_names_req',
  'find_package',
  'find_columns_with_stats',
  'isPartitionMarkedForEvent',
  'partition_name_to_vals',
  'partition_name_to_spec',
  'partition_name_has_valid_characters',
  'validate_resource_plan',
  'translate_table_dryrun',
  'getMetaConf',
  'getName',
  'getVersion',
  'getStatus',
  'getStatusDetails',
  'getCounters',
  'getCounter',
  'getOption',
  'getOptions',
  'aliveSince',
  'getCpuProfile',
])

/** Per-connection state on the server: remembered and replayed on every new backend connection. */
export const SESSION_SETTERS: ReadonlySet<string> = new Set(['set_ugi', 'setMetaConf'])

/** fb303 `async void` methods: no reply ever comes, whatever message type the client used. */
export const ONEWAY_METHODS: ReadonlySet<string> = new Set(['shutdown', 'reinitialize'])

/** Safe to re-send to another metastore when no byte of its answer reached the client. */
export function isIdempotent(method: string): boolean {
  if (GETS_THAT_WRITE.has(method)) return false
  if (method.startsWith('get_') || method.startsWith('list_') || method.startsWith('show_'))
    return true
  return OTHER_READS.has(method)
}

const METHOD_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,95}$/

/**
 * A label for metrics: the method name itself while the number of distinct names stays under
 * `limit`; afterwards (or for names that are not identifiers) 'other', bounding label cardinality
 * whatever clients send.
 */
export class MethodLabels {
  readonly #seen = new Set<string>()
  readonly #limit: number

  constructor(limit = 512) {
    this.#limit = limit
  }

  label(method: string): string {
    if (this.#seen.has(method)) return method
    if (!METHOD_NAME.test(method) || this.#seen.size >= this.#limit) return 'other'
    this.#seen.add(method)
    return method
  }
}
