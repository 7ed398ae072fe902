module.exports = { ...require('../../../jest.preset.cjs'), displayName: 'profile-builder', rootDir: __dirname };
