/**
 * Two projects: fast unit tests, and integration tests against real services (run in band).
 * A few dependencies (cookie via light-my-request, content-disposition via @fastify/static)
 * ship ESM only; Jest's CommonJS runtime on Node 20 cannot load them, so ts-jest
 * transpiles just those packages to CommonJS.
 */
const esmOnly = ['cookie', 'content-disposition'];
const common = {
  // Never crawl generated trees: stack state (dataset clones come and go while tests run), venvs, build output.
  modulePathIgnorePatterns: ['<rootDir>/.lifecycle/', '<rootDir>/.venv/', '<rootDir>/.venv-tools/', '<rootDir>/.venv-test/', '<rootDir>/dist/', '<rootDir>/.dvc-storage/'],
  watchPathIgnorePatterns: ['<rootDir>/.lifecycle/'],
  // Shares Node's typed arrays with the test realm, so real onnxruntime-node sessions work under Jest.
  testEnvironment: '<rootDir>/tests/support/onnx-node-environment.ts',
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.jest.json' }],
    [`node_modules/(${esmOnly.join('|')})/.+\\.js$`]: ['ts-jest', { tsconfig: { allowJs: true, module: 'commonjs' }, diagnostics: false }],
  },
  transformIgnorePatterns: [`/node_modules/(?!(${esmOnly.join('|')})/)`],
};
module.exports = {
  // One test file at a time (the integration suites share real services), in a worker process that is
  // replaced once a file leaves it above 1 GB: in a single long-lived process (--runInBand) the heap grew
  // to ~3 GB over the ~90 files, and its garbage collections stalled the in-process APIs and workers of
  // the late suites (CI saw the 100-rollout stress test go from 2 to over 8 minutes).
  maxWorkers: 1,
  workerIdleMemoryLimit: '1GB',
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/{api,lib,activities,workflows,workers,cli,bench}/**/*.test.ts'] },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/tests/integration/**/*.test.ts'],
      globalSetup: '<rootDir>/tests/integration/global-setup.ts',
      setupFilesAfterEnv: ['<rootDir>/tests/integration/jest-setup.ts'],
    },
  ],
};
