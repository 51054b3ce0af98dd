/**
 * tools/temporal-cluster itself (run by `npm run test:cluster` only: it builds the server on a
 * fresh machine): the version docker-compose.yml pins, on PostgreSQL with 4 history shards, the
 * namespace and search attributes usable the moment it resolves, its data kept across an outage
 * (SIGKILL, start again on the same address), its databases dropped by destroy().
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { defineSearchAttributeKey } from '@temporalio/common';
import { Client as PgClient } from 'pg';
import { startTemporalCluster, type TemporalCluster } from '../../tools/temporal-cluster';
import { testPostgresUrl } from '../../tools/postgres/test-database';
import { databaseExists, postgresTarget } from '../../tools/temporal-cluster/postgres';
import { pinnedServerVersion } from '../../tools/temporal-cluster/version';

const ROOT = path.resolve(__dirname, '../..');
const postgresUrl = testPostgresUrl();

describe('tools/temporal-cluster', () => {
  let cluster: TemporalCluster | undefined;
  let connection: Connection | undefined;

  afterAll(async () => {
    await connection?.close();
    await cluster?.destroy();
  });

  it('runs the pinned Temporal Server on the PostgreSQL major version compose uses', async () => {
    const pg = new PgClient({ connectionString: postgresUrl });
    await pg.connect();
    const { rows } = await pg.query<{ v: string }>("SELECT current_setting('server_version_num') AS v");
    await pg.end();
    const composeMajor = /image: postgres:(\d+)/.exec(
      readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8'),
    );
    expect(String(Math.floor(Number(rows[0]?.v) / 10_000))).toBe(composeMajor?.[1]);

    cluster = await startTemporalCluster({ keywordSearchAttributes: ['ZegoProbeA', 'ZegoProbeB'] });
    connection = await Connection.connect({ address: cluster.address });
    const info = await connection.workflowService.getClusterInfo({});
    expect(info.serverVersion).toBe(pinnedServerVersion(ROOT));
    expect(info.historyShardCount).toBe(4);
    expect(info.persistenceStore).toBe('postgres12');
    expect(info.visibilityStore).toContain('postgres12');
  });

  it('takes a start with its search attributes the moment it resolves, and keeps it across SIGKILL and start', async () => {
    if (!cluster || !connection) throw new Error('the cluster did not start');
    const client = new Client({ connection, namespace: cluster.namespace });
    const workflowId = `cluster-test-${randomUUID()}`;
    // No worker polls this queue: the execution stays open, held by the history shards alone.
    await client.workflow.start('noSuchWorkflow', {
      workflowId,
      taskQueue: 'cluster-test',
      typedSearchAttributes: [{ key: defineSearchAttributeKey('ZegoProbeA', 'KEYWORD'), value: 'x' }],
    });

    const address = cluster.address;
    const pid = cluster.process.pid;
    await cluster.kill();
    expect(cluster.running()).toBe(false);
    await cluster.start();
    expect(cluster.address).toBe(address);
    expect(cluster.process.pid).not.toBe(pid);

    const after = await Connection.connect({ address });
    try {
      const description = await new Client({ connection: after }).workflow.getHandle(workflowId).describe();
      expect(description.status.name).toBe('RUNNING');
      expect(description.typedSearchAttributes.get(defineSearchAttributeKey('ZegoProbeA', 'KEYWORD'))).toBe(
        'x',
      );
    } finally {
      await after.close();
    }
  });

  it('drops its databases on destroy', async () => {
    if (!cluster) throw new Error('the cluster did not start');
    const { main, visibility } = cluster.databases;
    const target = postgresTarget(postgresUrl);
    expect(await databaseExists(target, main)).toBe(true);
    await connection?.close();
    connection = undefined;
    await cluster.destroy();
    expect(cluster.running()).toBe(false);
    expect(await databaseExists(target, main)).toBe(false);
    expect(await databaseExists(target, visibility)).toBe(false);
  });
});
