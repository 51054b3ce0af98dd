/**
 * Ordered, numbered schema migrations, recorded in `schema_migrations` and applied when a database
 * is opened. Never edit or renumber a migration that has shipped: add a new one.
 *
 * Several worker/server replicas may start at once against one PostgreSQL: the whole run happens
 * in one transaction that first takes a transaction-level advisory lock, so one replica migrates
 * while the others wait and then find nothing left to do. DDL is transactional in PostgreSQL, so
 * a failed migration leaves no trace. The embedded database runs the same code (the lock is
 * harmless there).
 */
import type { Logger } from 'pino';
import type { SqlClient } from './sql';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** Advisory lock key of this service's migrations: the bytes of "zego". */
export const MIGRATION_LOCK_KEY = 0x7a65676f;

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'billing_ledger',
    sql: `
      CREATE TABLE billing_ledger (
        lifecycle_id     text PRIMARY KEY,
        workflow_id      text NOT NULL,
        app_id           text NOT NULL,
        task_id          text NOT NULL,
        user_id          text NOT NULL DEFAULT '',
        status           text NOT NULL CHECK (status IN ('finalized', 'not_billable')),
        started_at       timestamptz,
        stopped_at       timestamptz,
        billable_seconds numeric NOT NULL,
        billable_minutes bigint NOT NULL,
        currency         text NOT NULL,
        total_cost       numeric NOT NULL,
        finalized_at     timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX billing_ledger_app_stopped_idx ON billing_ledger (app_id, stopped_at);
      CREATE INDEX billing_ledger_app_user_stopped_idx ON billing_ledger (app_id, user_id, stopped_at);
      CREATE INDEX billing_ledger_app_task_idx ON billing_ledger (app_id, task_id);

      -- One row per tier of a lifecycle; app_id, user_id and stopped_at are copied from the ledger
      -- row (they never change) so usage reports by app/day/user/tier read this table alone.
      CREATE TABLE billing_lines (
        lifecycle_id text NOT NULL REFERENCES billing_ledger (lifecycle_id) ON DELETE CASCADE,
        line_no      integer NOT NULL,
        app_id       text NOT NULL,
        user_id      text NOT NULL,
        stopped_at   timestamptz,
        tier         text NOT NULL,
        seconds      numeric NOT NULL,
        minutes      bigint NOT NULL,
        cost         numeric NOT NULL,
        PRIMARY KEY (lifecycle_id, line_no)
      );
      CREATE INDEX billing_lines_app_stopped_idx ON billing_lines (app_id, stopped_at);
      CREATE INDEX billing_lines_app_user_stopped_idx ON billing_lines (app_id, user_id, stopped_at);
    `,
  },
  {
    version: 2,
    name: 'alerts',
    sql: `
      CREATE TABLE alerts (
        key            text PRIMARY KEY,
        kind           text NOT NULL,
        app_id         text NOT NULL,
        task_id        text NOT NULL,
        user_id        text NOT NULL DEFAULT '',
        workflow_id    text NOT NULL,
        lifecycle_id   text NOT NULL,
        reason         text NOT NULL,
        occurred_at    timestamptz NOT NULL,
        details        jsonb,
        created_at     timestamptz NOT NULL DEFAULT now(),
        delivery       text NOT NULL DEFAULT 'pending'
                       CHECK (delivery IN ('pending', 'delivered', 'failed', 'not_configured')),
        delivered_at   timestamptz,
        delivery_error text
      );
      CREATE INDEX alerts_app_task_idx ON alerts (app_id, task_id, occurred_at);
      CREATE INDEX alerts_kind_idx ON alerts (kind, occurred_at);
      CREATE INDEX alerts_undelivered_idx ON alerts (created_at) WHERE delivery IN ('pending', 'failed');
    `,
  },
  {
    version: 3,
    name: 'active_tasks',
    sql: `
      CREATE TABLE active_tasks (
        app_id        text NOT NULL,
        task_id       text NOT NULL,
        user_id       text NOT NULL DEFAULT '',
        workflow_id   text NOT NULL,
        lifecycle_id  text NOT NULL,
        started_at    timestamptz,
        input         jsonb,
        outputs       jsonb NOT NULL DEFAULT '[]',
        registered_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (app_id, task_id)
      );
      CREATE INDEX active_tasks_registered_idx ON active_tasks (registered_at);
    `,
  },
  {
    version: 4,
    name: 'callback_nonces',
    sql: `
      -- binding_id: random per bind() call; the row carries the id of the call that bound it, so
      -- one INSERT … ON CONFLICT … RETURNING tells "bound now" from "bound earlier".
      CREATE TABLE callback_nonces (
        key         text PRIMARY KEY,
        fingerprint text NOT NULL,
        expires_at  timestamptz NOT NULL,
        binding_id  text NOT NULL,
        bound_at    timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX callback_nonces_expires_idx ON callback_nonces (expires_at);
    `,
  },
  {
    version: 5,
    name: 'callback_inbox',
    sql: `
      -- Every authentic transcode callback, recorded before it is acknowledged (src/store/inbox.ts).
      -- status: pending (not yet taken by Temporal), delivered, rejected (refused for good: kept).
      -- lease_owner/lease_until: the relay replica delivering it; a lease with no owner is a
      -- retry delay. Delivered rows are pruned after CALLBACK_RETENTION.
      CREATE TABLE callback_inbox (
        id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        workflow_id     text NOT NULL,
        app_id          text NOT NULL,
        task_id         text NOT NULL,
        event           text NOT NULL,
        sequence        bigint NOT NULL,
        callback_status text NOT NULL,
        payload         jsonb NOT NULL,
        nonce_key       text NOT NULL,
        received_at     timestamptz NOT NULL,
        status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'rejected')),
        attempts        integer NOT NULL DEFAULT 0,
        lease_owner     text,
        lease_until     timestamptz,
        delivered_at    timestamptz,
        outcome         text,
        run_id          text,
        error           text,
        redeliveries    integer NOT NULL DEFAULT 0,
        -- W3C trace context of the request that recorded it (tracing on): the relay's hand-off
        -- continues that trace.
        trace_context   jsonb
      );
      -- The relay: per-task heads in Sequence order, and the oldest pending entry.
      CREATE INDEX callback_inbox_pending_task_idx ON callback_inbox (workflow_id, sequence, id)
        WHERE status = 'pending';
      CREATE INDEX callback_inbox_pending_age_idx ON callback_inbox (received_at, id) WHERE status = 'pending';
      -- Duplicate check at the door (same task, Event, Sequence, Status) and the log by task.
      CREATE INDEX callback_inbox_identity_idx ON callback_inbox (workflow_id, sequence);
      -- The log by status and by app, newest first; pruning walks delivered rows oldest first.
      CREATE INDEX callback_inbox_status_idx ON callback_inbox (status, id);
      CREATE INDEX callback_inbox_app_idx ON callback_inbox (app_id, id);
    `,
  },
  {
    version: 6,
    name: 'alerts_resolution',
    sql: `
      -- An alert whose condition ended (a stale task's own stop arrived, ...): when, and how. The
      -- all-clear sent to the alert webhook has its own delivery state, NULL until resolved.
      ALTER TABLE alerts
        ADD COLUMN resolved_at timestamptz,
        ADD COLUMN resolution text,
        ADD COLUMN resolution_delivery text
          CHECK (resolution_delivery IN ('pending', 'delivered', 'failed', 'not_configured')),
        ADD COLUMN resolution_delivered_at timestamptz,
        ADD COLUMN resolution_delivery_error text;
    `,
  },
  {
    version: 7,
    name: 'billing_amendments',
    sql: `
      -- A ledger row may be amended (a stale task's own stop moves its end): revision counts the
      -- writes, 1 for the finalization. billing_lines' copies of stopped_at move with the row.
      ALTER TABLE billing_ledger
        ADD COLUMN revision integer NOT NULL DEFAULT 1,
        ADD COLUMN amended_at timestamptz;

      -- One row per amendment: the values it replaced. UNIQUE (lifecycle_id, reason) makes each
      -- kind of amendment happen at most once per lifecycle, whoever retries it.
      CREATE TABLE billing_amendments (
        lifecycle_id              text NOT NULL REFERENCES billing_ledger (lifecycle_id) ON DELETE CASCADE,
        revision                  integer NOT NULL,
        reason                    text NOT NULL,
        previous_stopped_at       timestamptz,
        previous_billable_seconds numeric NOT NULL,
        previous_billable_minutes bigint NOT NULL,
        previous_total_cost       numeric NOT NULL,
        previous_lines            jsonb NOT NULL,
        amended_at                timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (lifecycle_id, revision),
        UNIQUE (lifecycle_id, reason)
      );
    `,
  },
  {
    version: 8,
    name: 'billing_amendments_started_at',
    sql: `
      -- An earlier-signed original of a callback (ZEGO re-signs some retries) may move a billed
      -- start, not only the stop: the audit row keeps the start it replaced too (null in rows
      -- written before, whose amendments never moved it).
      ALTER TABLE billing_amendments ADD COLUMN previous_started_at timestamptz;
    `,
  },
];

export interface MigrationResult {
  /** Versions applied by this call (empty when the schema was already current). */
  applied: number[];
  /** Schema version after the call. */
  version: number;
}

/** Applies the pending migrations; safe to call concurrently from several processes. */
export async function runMigrations(
  client: SqlClient,
  options: { logger?: Logger; migrations?: readonly Migration[] } = {},
): Promise<MigrationResult> {
  const migrations = [...(options.migrations ?? MIGRATIONS)].sort((a, b) => a.version - b.version);
  checkMigrationList(migrations);
  const result = await client.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1::bigint)', [MIGRATION_LOCK_KEY]);
    // Checked first: CREATE … IF NOT EXISTS would still need CREATE on the schema, which a role
    // that only uses an already migrated database may lack.
    const present = await tx.query<{ present: boolean }>(
      "SELECT to_regclass('schema_migrations') IS NOT NULL AS present",
    );
    if (!present.rows[0]?.present) {
      await tx.exec(`
        CREATE TABLE schema_migrations (
          version    integer PRIMARY KEY,
          name       text NOT NULL,
          applied_at timestamptz NOT NULL DEFAULT now()
        )`);
    }
    const { rows } = await tx.query<{ version: number | string; name: string }>(
      'SELECT version, name FROM schema_migrations ORDER BY version',
    );
    const recorded = new Map(rows.map((r) => [Number(r.version), r.name]));
    for (const m of migrations) {
      const name = recorded.get(m.version);
      if (name !== undefined && name !== m.name) {
        throw new Error(
          `schema_migrations has version ${m.version} as "${name}" but this code calls it "${m.name}": the database was migrated by different code`,
        );
      }
    }
    const applied: number[] = [];
    for (const m of migrations) {
      if (recorded.has(m.version)) continue;
      await tx.exec(m.sql);
      await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      applied.push(m.version);
    }
    const newest = Math.max(0, ...recorded.keys(), ...applied);
    const unknown = [...recorded.keys()].filter((v) => !migrations.some((m) => m.version === v));
    return { applied, version: newest, unknown };
  });
  if (result.unknown.length > 0) {
    options.logger?.warn(
      { unknownVersions: result.unknown },
      'database schema has migrations this code does not know (migrated by a newer version?)',
    );
  }
  if (result.applied.length > 0) {
    options.logger?.info({ applied: result.applied, version: result.version }, 'database migrations applied');
  }
  return { applied: result.applied, version: result.version };
}

function checkMigrationList(migrations: readonly Migration[]): void {
  migrations.forEach((m, i) => {
    if (!Number.isInteger(m.version) || m.version < 1) throw new Error(`bad migration version ${m.version}`);
    if (i > 0 && migrations[i - 1].version === m.version)
      throw new Error(`duplicate migration version ${m.version}`);
  });
}
