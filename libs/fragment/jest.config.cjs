module.exports = { ...require('../../jest.preset.cjs'), displayName: 'fragment', rootDir: __dirname };
