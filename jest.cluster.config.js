/** `npm run test:cluster`: the integration suites that matter on a real Temporal cluster (Temporal
 * Server on PostgreSQL, 4 history shards; tools/temporal-cluster), run against one started by
 * test/helpers/global-setup.ts instead of the dev server. Add a suite here to run it there too. */
const CLUSTER_SUITES = [
  'lifecycle',
  'replicas',
  'resilience',
  'chaos',
  'follow-ups',
  'usage',
  'inbox',
  'stale-stop',
];

// Read by global setup and by the suites that start a Temporal of their own (test/helpers/temporal.ts);
// test workers inherit it.
process.env.TEMPORAL_TEST_SERVER = 'cluster';
const base = require('./jest.config.js');
const integration = base.projects.find((project) => project.displayName === 'integration');

module.exports = {
  ...base,
  projects: [
    {
      ...integration,
      displayName: 'cluster',
      testMatch: [
        ...CLUSTER_SUITES.map((name) => `<rootDir>/test/integration/${name}.test.ts`),
        // The cluster tooling's own tests (not in `npm test`: on a fresh machine they build the server).
        '<rootDir>/test/cluster/**/*.test.ts',
      ],
    },
  ],
};
