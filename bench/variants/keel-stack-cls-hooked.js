'use strict';
const { buildStack } = require('./_stack');

module.exports = {
  title: 'keel full stack, cls-hooked backend',
  group: 'stack',
  setup: "the full stack + useClsHooked(createNamespace('keel-bench'))",
  build: () => buildStack({ clsHooked: true }),
};
