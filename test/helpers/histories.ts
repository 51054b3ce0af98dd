/**
 * Workflow histories as JSON (what `temporal workflow show -o json` prints) → the SDK's History.
 *
 * The SDK's own `historyFromJSON` (which `Worker.runReplayHistory` calls for JSON) fails here with
 * "type must be a Type": each @temporalio package carries its own protobufjs 8 copy (the root one
 * is 7, for OpenTelemetry), and @temporalio/common's ProtoJSON parser checks `instanceof Type`
 * against its copy while the History type comes from @temporalio/proto's. So the parser is taken
 * from the protobufjs copy @temporalio/proto itself uses.
 */
import { readFileSync } from 'node:fs';
import * as proto from '@temporalio/proto';
import { patchProtobufRoot } from '@temporalio/proto/lib/patch-protobuf-root';
import type { History } from '@temporalio/common/lib/proto-utils';

interface ProtoJson {
  fromJson(type: unknown, json: unknown, options?: { ignoreUnknownFields?: boolean }): unknown;
}

// A path only require() can take: the copy beside @temporalio/proto, not the one nearest this file.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const protojson = require(
  require.resolve('protobufjs/ext/protojson', { paths: [require.resolve('@temporalio/proto')] }),
) as ProtoJson;
const historyType = (patchProtobufRoot(proto) as unknown as { lookupType(name: string): unknown }).lookupType(
  'temporal.api.history.v1.History',
);

/** Reads a history JSON file (Temporal's ProtoJSON form). */
export function readHistoryFile(file: string): History {
  const json = JSON.parse(readFileSync(file, 'utf8'));
  return protojson.fromJson(historyType, json, { ignoreUnknownFields: true }) as History;
}
