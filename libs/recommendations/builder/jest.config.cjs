module.exports = { ...require('../../../jest.preset.cjs'), displayName: 'recommendations-builder', rootDir: __dirname };
