const nodeApp = require('../../tools/webpack/node-app.cjs');
const browserBundle = require('../../tools/webpack/browser-bundle.cjs');

module.exports = [
  nodeApp({ name: 'gateway', appRoot: __dirname }),
  // The demo page's script and stylesheet, served by the gateway at /assets/.
  browserBundle({ app: 'gateway', name: 'dashboard', entry: 'libs/fragment-client/src/browser/dashboard.ts' }),
];
