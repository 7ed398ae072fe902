module.exports = { ...require('../../jest.preset.cjs'), displayName: 'worker-host', rootDir: __dirname };
