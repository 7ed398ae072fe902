module.exports = {
  ...require('../../jest.preset.cjs'),
  displayName: 'recommendations',
  rootDir: __dirname,
  roots: ['<rootDir>/src'],
};
