/** Jest runs the TypeScript tests as native ESM; tsc typechecks them separately in `npm test`. */
const base = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts', '**/*.test.tsx'],
  extensionsToTreatAsEsm: ['.ts', '.tsx'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.tsx?$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }],
  },
};

/** The suites that run a second time with every relay on PostgreSQL (test/support/postgres-project.ts). */
const ON_BOTH_STORES = [
  'test/daemon/relay.test.ts',
  'test/daemon/crash.test.ts',
  'test/hostile/key-attacks.test.ts',
  'test/hostile/login-attacks.test.ts',
  'test/hostile/packet-tampering.test.ts',
  'test/hostile/stream-attacks.test.ts',
  'test/hostile/limits.test.ts',
  'test/conformance/conformance.test.ts',
  'test/daemon/store-limits.test.ts',
  'test/daemon/group-commit.test.ts',
  'test/daemon/group-send.test.ts',
  'test/daemon/prelogin-timing.test.ts',
  'test/daemon/change-password.test.ts',
  'test/cli/passwd.test.ts',
  'test/daemon/groups.test.ts',
  'test/daemon/rotate-key.test.ts',
  'test/cli/rotate-key.test.ts',
  'test/hostile/key-rotation-attacks.test.ts',
  'test/daemon/delete-account.test.ts',
  'test/cli/delete-account.test.ts',
  'test/hostile/deletion-attacks.test.ts',
  'test/cli/group-deleted-member.test.ts',
  'test/cli/group-messages.test.ts',
  'test/hostile/group-message-attacks.test.ts',
  'test/cli/group-rotate-key.test.ts',
  'test/cli/group-second-device.test.ts',
  'test/cli/edits-cli.test.ts',
];

export default {
  testTimeout: 30000,
  // Under CI's single worker the suites run in this process: a timer or connection a suite leaves open
  // (a PostgreSQL reconnection loop) must not keep the run from ending with its result.
  forceExit: true,
  reporters: ['default', '<rootDir>/test/support/summary-reporter.cjs'],
  projects: [
    { ...base, displayName: 'lowdb' },
    {
      ...base,
      displayName: 'postgres',
      testMatch: ON_BOTH_STORES.map((path) => `<rootDir>/${path}`),
      setupFilesAfterEnv: ['<rootDir>/test/support/postgres-project.ts'],
    },
  ],
};
