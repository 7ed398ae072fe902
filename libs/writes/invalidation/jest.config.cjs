module.exports = { ...require('../../../jest.preset.cjs'), displayName: 'writes-invalidation', rootDir: __dirname };
