// Run by population.ts as a fresh node process, started as a worker is: prints its V8 heap limit
// (bytes), from which the Temporal SDK derives its default workflow cache.
/* global require, process */
'use strict';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- a plain CommonJS script
process.stdout.write(String(require('node:v8').getHeapStatistics().heap_size_limit));
