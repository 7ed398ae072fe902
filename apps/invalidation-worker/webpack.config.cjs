module.exports = require('../../tools/webpack/node-app.cjs')({ name: 'invalidation-worker', appRoot: __dirname });
