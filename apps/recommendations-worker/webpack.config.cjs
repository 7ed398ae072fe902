module.exports = require('../../tools/webpack/node-app.cjs')({ name: 'recommendations-worker', appRoot: __dirname });
