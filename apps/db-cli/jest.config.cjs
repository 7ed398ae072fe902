module.exports = { ...require('../../jest.preset.cjs'), displayName: 'db-cli', rootDir: __dirname };
