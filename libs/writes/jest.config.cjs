module.exports = {
  ...require('../../jest.preset.cjs'),
  displayName: 'writes',
  rootDir: __dirname,
  roots: ['<rootDir>/src'],
};
