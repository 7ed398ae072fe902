module.exports = { ...require('../../jest.preset.cjs'), displayName: 'fragment-client', rootDir: __dirname };
