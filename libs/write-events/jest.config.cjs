module.exports = {
  ...require('../../jest.preset.cjs'),
  displayName: 'write-events',
  rootDir: __dirname,
  roots: ['<rootDir>/src'],
};
