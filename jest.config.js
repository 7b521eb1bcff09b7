// One jest project per package, plus the docs recipes: each runs its own tests
// against the TypeScript sources, so a test never depends on a stale build.
const fs = require('node:fs');
const path = require('node:path');

const packageNames = fs
  .readdirSync(path.join(__dirname, 'packages'))
  .filter((name) => fs.existsSync(path.join(__dirname, 'packages', name, 'package.json')));

/** Maps `@keel/<name>` to that package's sources, and the shared test support. */
const moduleNameMapper = {
  '^@keel/test-support$': '<rootDir>/test/support/index.ts',
  ...Object.fromEntries(packageNames.map((name) => [`^@keel/${name}$`, `<rootDir>/packages/${name}/src/index.ts`])),
};

const shared = {
  rootDir: __dirname,
  testEnvironment: 'node',
  moduleNameMapper,
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.test.json' }],
  },
};

/** @type {import('jest').Config} */
module.exports = {
  // Global only: jest ignores testTimeout inside a project entry.
  testTimeout: 20000,
  reporters: ['default', '<rootDir>/scripts/jest-summary-reporter.js'],
  projects: [
    ...packageNames.map((name) => ({
      ...shared,
      displayName: `@keel/${name}`,
      testMatch: [`<rootDir>/packages/${name}/test/**/*.test.ts`],
    })),
    {
      ...shared,
      displayName: 'proof',
      testMatch: ['<rootDir>/bench/**/*.test.ts', '<rootDir>/drill/**/*.test.ts'],
    },
    {
      ...shared,
      displayName: 'repo',
      testMatch: ['<rootDir>/scripts/**/*.test.ts'],
    },
    {
      ...shared,
      displayName: 'docs',
      testMatch: ['<rootDir>/docs/**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', '/docs/.vitepress/'],
    },
  ],
};
