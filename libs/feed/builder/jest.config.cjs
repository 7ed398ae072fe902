module.exports = { ...require('../../../jest.preset.cjs'), displayName: 'feed-builder', rootDir: __dirname };
