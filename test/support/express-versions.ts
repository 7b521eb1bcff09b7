import express5 from 'express';

// Express 4 is installed under an alias so that both majors run in one suite.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const express4 = require('express4') as typeof express5;

/** An `express` module of either major: call it for an app, use `.Router()`, `.json()`. */
export type ExpressFactory = typeof express5;

/** One Express major under test: its label and its module. */
export interface ExpressVersion {
  readonly label: 'express 4' | 'express 5';
  readonly major: 4 | 5;
  readonly express: ExpressFactory;
}

/** Every Express major keel supports, oldest first. */
export const expressVersions: readonly ExpressVersion[] = [
  { label: 'express 4', major: 4, express: express4 },
  { label: 'express 5', major: 5, express: express5 },
];

/**
 * Runs a `describe` block once per Express major, so a behaviour is written once
 * and proven on both: `describeEachExpress('timeout()', ({ express }) => { ... })`.
 */
export function describeEachExpress(name: string, body: (version: ExpressVersion) => void): void {
  describe.each(expressVersions.map((version) => [version.label, version] as const))(`${name} on %s`, (_label, version) => {
    body(version);
  });
}
