'use strict';
// What every variant shares: the two routes under test, and loading keel
// packages from their built output with a clear reason when one is missing.

const path = require('node:path');

/** Thrown by a variant that cannot be built here; the bench lists it as unavailable with this reason. */
class Unavailable extends Error {
  constructor(reason) {
    super(reason);
    this.name = 'Unavailable';
  }
}

// About 2 KB once serialised: a page of records as a list endpoint would return.
const PAYLOAD = Object.freeze({
  page: 1,
  total: 1234,
  items: Array.from({ length: 14 }, (_, i) => ({
    id: `item-${String(i).padStart(4, '0')}`,
    name: `Widget number ${i}`,
    price: 10 + i * 1.25,
    tags: ['alpha', 'beta', 'gamma'].slice(0, (i % 3) + 1),
    inStock: i % 2 === 0,
    updatedAt: '2024-05-01T12:00:00.000Z',
  })),
});

/** The routes, by name: the path the load generator hits. */
const ROUTES = Object.freeze({ trivial: '/trivial', json2k: '/json2k' });

/** Mounts the routes on `app` (the same handlers in every variant). */
function mountRoutes(app) {
  app.get(ROUTES.trivial, (_req, res) => {
    res.json({ ok: true });
  });
  app.get(ROUTES.json2k, (_req, res) => {
    res.json(PAYLOAD);
  });
  return app;
}

/** Express 5 (`express`) or 4 (the `express4` alias). */
function loadExpress(major) {
  return major === 4 ? require('express4') : require('express');
}

/**
 * Requires a keel package from its built `dist/` (as a user of the published
 * package would get it) and checks that the named exports exist.
 */
function requireKeel(name, exportNames = []) {
  let mod;
  try {
    mod = require(`@keel/${name}`);
  } catch (error) {
    if (error && error.code === 'MODULE_NOT_FOUND' && String(error.message).includes(`@keel/${name}`)) {
      const dist = path.join('packages', name, 'dist', 'index.js');
      throw new Unavailable(`@keel/${name} is not built (${dist} missing; run npm run build)`);
    }
    throw new Unavailable(`@keel/${name} failed to load: ${error && error.message}`);
  }
  const missing = exportNames.filter((exportName) => typeof mod[exportName] !== 'function');
  if (missing.length > 0) throw new Unavailable(`@keel/${name} has no export ${missing.join(', ')}`);
  return mod;
}

/** Requires a third-party comparator, reporting a missing dev dependency as unavailable. */
function requireOptional(name) {
  try {
    return require(name);
  } catch (error) {
    throw new Unavailable(`${name} is not installed (${error && error.code})`);
  }
}

module.exports = { Unavailable, PAYLOAD, ROUTES, mountRoutes, loadExpress, requireKeel, requireOptional };
