export { describeSystem, systemTestsSkipped, findProgram, requireProgram, freePort, waitForPort, stopProcess } from './system';
export { startPostgres } from './postgres';
export type { TemporaryPostgres } from './postgres';
export { startHaproxy, startNginx, adaptHaproxyConfig, adaptNginxConfig } from './proxies';
export type { RunningProxy, Upstream } from './proxies';
export { startRecipeApp, listeningPort, EXPRESS_MAJORS } from './recipes';
export { runRollingRestart } from './rolling-restart';
export type { RestartableInstance, RollingRestartResult } from './rolling-restart';
