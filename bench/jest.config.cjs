// Unit specs of the bench's helpers, and the smoke test: `--quick` end to end against real Redis and
// Postgres, so the suite cannot rot. The smoke test needs the built apps (the target depends on them).
module.exports = {
  ...require('../jest.preset.cjs'),
  displayName: 'bench',
  rootDir: __dirname,
  testMatch: ['<rootDir>/src/**/*.spec.ts'],
};
