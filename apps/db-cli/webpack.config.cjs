module.exports = require('../../tools/webpack/node-app.cjs')({ name: 'db-cli', appRoot: __dirname });
