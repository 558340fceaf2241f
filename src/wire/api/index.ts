// The API keys and versions this listener serves, advertised in ApiVersions. Every version listed
// here is implemented by its handler; clients pick the highest version both sides know.
import type { ApiSpec } from '../context.js'
import { Writer, type Reader } from '../protocol.js'
import { ErrorCode } from '../errors.js'
import { handleFetch } from './fetch.js'
import { handleListOffsets } from './list-offsets.js'
import { handleMetadata } from './metadata.js'
import { handleProduce } from './produce.js'
import {
  handleDeleteGroups, handleDescribeGroups, handleFindCoordinator, handleHeartbeat, handleJoinGroup, handleLeaveGroup, handleListGroups, handleSyncGroup,
} from './groups.js'
import { handleOffsetCommit, handleOffsetFetch } from './offsets.js'
import { handleCreatePartitions, handleCreateTopics, handleDeleteRecords, handleDeleteTopics } from './topics.js'
import { handleAlterConfigs, handleDescribeConfigs } from './configs.js'
import { handleAddOffsetsToTxn, handleAddPartitionsToTxn, handleEndTxn, handleInitProducerId, handleTxnOffsetCommit } from './transactions.js'

export const API_VERSIONS_KEY = 18

const NOT_FLEXIBLE = Infinity

const spec = (name: string, minVersion: number, maxVersion: number, handle: ApiSpec['handle'], flexibleFrom = NOT_FLEXIBLE): ApiSpec => ({
  name, minVersion, maxVersion, handle, flexibleFrom,
})

/** The range ApiVersions lists for an API (see ApiSpec.advertisedMin). */
const listed = (s: ApiSpec): [number, number] => [s.advertisedMin ?? s.minVersion, s.maxVersion]

const API_TABLE: ReadonlyMap<number, ApiSpec> = new Map([
  [0, { ...spec('Produce', 3, 7, handleProduce), advertisedMin: 0 }],
  [1, spec('Fetch', 4, 11, handleFetch)],
  [2, spec('ListOffsets', 1, 3, handleListOffsets)],
  [3, spec('Metadata', 0, 6, handleMetadata)],
  [8, spec('OffsetCommit', 2, 5, handleOffsetCommit)],
  [9, spec('OffsetFetch', 1, 4, handleOffsetFetch)],
  [10, spec('FindCoordinator', 0, 2, handleFindCoordinator)],
  [11, spec('JoinGroup', 0, 5, handleJoinGroup)],
  [12, spec('Heartbeat', 0, 3, handleHeartbeat)],
  [13, spec('LeaveGroup', 0, 2, handleLeaveGroup)],
  [14, spec('SyncGroup', 0, 3, handleSyncGroup)],
  [15, spec('DescribeGroups', 0, 2, handleDescribeGroups)],
  [16, spec('ListGroups', 0, 2, handleListGroups)],
  [API_VERSIONS_KEY, spec('ApiVersions', 0, 3, handleApiVersions, 3)],
  [19, spec('CreateTopics', 0, 4, handleCreateTopics)],
  [20, spec('DeleteTopics', 0, 3, handleDeleteTopics)],
  [21, spec('DeleteRecords', 0, 1, handleDeleteRecords)],
  [22, spec('InitProducerId', 0, 1, handleInitProducerId)],
  [24, spec('AddPartitionsToTxn', 0, 1, handleAddPartitionsToTxn)],
  [25, spec('AddOffsetsToTxn', 0, 1, handleAddOffsetsToTxn)],
  [26, spec('EndTxn', 0, 1, handleEndTxn)],
  [28, spec('TxnOffsetCommit', 0, 2, handleTxnOffsetCommit)],
  [32, spec('DescribeConfigs', 0, 2, handleDescribeConfigs)],
  [33, spec('AlterConfigs', 0, 1, handleAlterConfigs)],
  [37, spec('CreatePartitions', 0, 1, handleCreatePartitions)],
  [42, spec('DeleteGroups', 0, 1, handleDeleteGroups)],
])

export function apiSpec(apiKey: number): ApiSpec | undefined {
  return API_TABLE.get(apiKey)
}

/** Every served API as [key, name, min, max], for documentation and tests. */
export function servedApis(): Array<{ apiKey: number; name: string; minVersion: number; maxVersion: number }> {
  return [...API_TABLE].map(([apiKey, s]) => ({ apiKey, name: s.name, minVersion: s.minVersion, maxVersion: s.maxVersion }))
}

// ApiVersions request v3: client_software_name COMPACT_STRING, client_software_version COMPACT_STRING, TAGGED_FIELDS
// response v0: error_code int16, api_keys [api_key int16, min_version int16, max_version int16]
//          v1+: + throttle_time_ms int32;  v3: compact arrays, tagged fields after each key and at the end
function handleApiVersions(_ctx: unknown, req: { version: number }, r: Reader, w: Writer): void {
  if (req.version >= 3) {
    r.compactString()
    r.compactString()
    r.taggedFields()
    w.int16(ErrorCode.NONE)
    w.compactArray([...API_TABLE], (w, [key, s]) => w.int16(key).int16(listed(s)[0]).int16(listed(s)[1]).taggedFields())
    w.int32(0)
    w.taggedFields()
    return
  }
  w.int16(ErrorCode.NONE)
  w.array([...API_TABLE], (w, [key, s]) => w.int16(key).int16(listed(s)[0]).int16(listed(s)[1]))
  if (req.version >= 1) w.int32(0)
}

/** The answer to an ApiVersions request newer than v3: error 35 in the v0 layout, with the versions served. */
export function unsupportedApiVersions(): Writer {
  const w = new Writer().int16(ErrorCode.UNSUPPORTED_VERSION)
  w.array([...API_TABLE], (w, [key, s]) => w.int16(key).int16(listed(s)[0]).int16(listed(s)[1]))
  return w
}
