module.exports = {
  ...require('../../jest.preset.cjs'),
  displayName: 'profile',
  rootDir: __dirname,
  roots: ['<rootDir>/src'],
};
