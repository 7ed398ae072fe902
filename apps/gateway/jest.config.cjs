const preset = require('../../jest.preset.cjs');
const [, swcOptions] = preset.transform['^.+\\.ts$'];

// @fastify/static (bull-board's and swagger-ui's assets) requires content-disposition, which is
// ESM only. Node 20 loads it with require(esm) at run time; Jest's module runtime cannot before
// Node 24.9, so here SWC turns that one package into CommonJS.
const ESM_ONLY = ['content-disposition'];

module.exports = {
  ...preset,
  displayName: 'gateway',
  rootDir: __dirname,
  transform: {
    ...preset.transform,
    [`node_modules/(${ESM_ONLY.join('|')})/.+\\.js$`]: [
      '@swc/jest',
      { ...swcOptions, jsc: { ...swcOptions.jsc, parser: { syntax: 'ecmascript' } } },
    ],
  },
  transformIgnorePatterns: [`/node_modules/(?!(${ESM_ONLY.join('|')})/)`],
};
