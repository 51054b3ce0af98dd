// The embedded database's own thread (see pglite-thread-sql.ts): PGlite, Postgres compiled to
// WASM, runs every statement synchronously on the thread that calls it. On the main thread of
// `npm run dev` it took over half of that thread under load, and the HTTP server, the relay and
// the worker waited behind it. Plain JavaScript with nothing but PGlite to load, so it runs the
// same from the source tree, under Jest and from dist/.
/* global require */
'use strict';

/* eslint-disable @typescript-eslint/no-require-imports -- a CommonJS script run as a worker thread */
const { parentPort, workerData } = require('node:worker_threads');
const { PGlite } = require('@electric-sql/pglite');
/* eslint-enable @typescript-eslint/no-require-imports */

/** The Postgres fields an error keeps on its way to the main thread (sql.ts's list). */
const errorFields = workerData.errorFields;
/** Open transactions by id: the PGlite transaction and how to end it. */
const transactions = new Map();
let db;

function plainError(err) {
  const out = { message: err && typeof err.message === 'string' ? err.message : String(err) };
  if (err && typeof err.name === 'string') out.name = err.name;
  for (const field of errorFields) if (err && err[field] !== undefined) out[field] = err[field];
  return out;
}

/** The connection a statement runs on: its transaction's, or the database's (queued behind any). */
function target(tx) {
  if (tx === undefined) return db;
  const open = transactions.get(tx);
  if (!open) throw new Error(`embedded database: transaction ${tx} is not open`);
  return open.tx;
}

/** Resolves once the transaction has begun (PGlite holds its one connection for it until it ends). */
function begin(id) {
  return new Promise((begun, failed) => {
    const done = db.transaction(
      (tx) =>
        new Promise((commit, rollback) => {
          transactions.set(id, { tx, commit, rollback, done });
          begun();
        }),
    );
    // Failing before the callback ran (BEGIN refused): report it; otherwise `end` awaits `done`.
    done.catch((err) => {
      if (!transactions.has(id)) failed(err);
    });
  });
}

/** What a transaction ended by the caller is rolled back with (not an error to report). */
const ROLLBACK = new Error('rolled back by the caller');

async function end(id, commit) {
  const open = transactions.get(id);
  if (!open) throw new Error(`embedded database: transaction ${id} is not open`);
  if (commit) open.commit();
  else open.rollback(ROLLBACK);
  try {
    await open.done;
  } catch (err) {
    if (err !== ROLLBACK) throw err;
  } finally {
    transactions.delete(id);
  }
}

async function run(msg) {
  switch (msg.op) {
    case 'open':
      db = await PGlite.create(msg.dataDir);
      return undefined;
    case 'query':
      return (await target(msg.tx).query(msg.text, msg.params)).rows;
    case 'exec':
      await target(msg.tx).exec(msg.text);
      return undefined;
    case 'begin':
      await begin(msg.tx);
      return undefined;
    case 'commit':
      await end(msg.tx, true);
      return undefined;
    case 'rollback':
      await end(msg.tx, false);
      return undefined;
    case 'close':
      await db?.close();
      return undefined;
    default:
      throw new Error(`embedded database: unknown operation ${msg.op}`);
  }
}

parentPort.on('message', (msg) => {
  run(msg).then(
    (rows) => parentPort.postMessage({ id: msg.id, rows }),
    (err) => parentPort.postMessage({ id: msg.id, error: plainError(err) }),
  );
});
