// Code that predates keel and reads a cls-hooked namespace, the way Sequelize v6
// (`Sequelize.useCLS(namespace)`) and many in-house helpers do.
// #region audit
const { getNamespace } = require('cls-hooked');

async function audit(action) {
  const namespace = getNamespace('app');
  await new Promise((resolve) => setTimeout(resolve, 5)); // a write to the audit table
  return {
    action,
    // keel's request context, published into the namespace under 'keel'.
    traceId: namespace.get('keel')?.traceId,
    // A value the app itself set on the namespace earlier in the request.
    userId: namespace.get('userId'),
  };
}
// #endregion audit

module.exports = { audit };
