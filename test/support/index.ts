export { expressVersions, describeEachExpress } from './express-versions';
export type { ExpressFactory, ExpressVersion } from './express-versions';
export { listen, closeServer } from './servers';
export { runFixture, startFixture } from './child-process';
export type { FixtureResult, RunningFixture } from './child-process';
export { deferred } from './deferred';
export type { Deferred } from './deferred';
export { describeWithPrograms, requireSystemProgram, isCI, SKIPPED_SUITES_FILE_ENV } from './system-programs';
export type { SystemProgram, SkippedSuite } from './system-programs';
