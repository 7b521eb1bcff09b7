import { createLifecycle, type Lifecycle } from './lifecycle';
import { InvalidOptionError } from './options-validation';
import { processGlobal } from './process-global';

interface DefaultLifecycleSlot {
  lifecycle: Lifecycle | undefined;
}

const defaultSlot = processGlobal<DefaultLifecycleSlot>('keel.lifecycle.default', () => ({ lifecycle: undefined }));

/**
 * The process-wide lifecycle that keel packages use when none is passed: it
 * listens to SIGTERM and SIGINT and owns the process exit. Created on first call,
 * shared by every installed copy of this package.
 */
export function getDefaultLifecycle(): Lifecycle {
  defaultSlot.lifecycle ??= createLifecycle({ exit: true });
  return defaultSlot.lifecycle;
}

/** The default lifecycle if one exists, without creating it (reading state never installs signal handlers). */
export function peekDefaultLifecycle(): Lifecycle | undefined {
  return defaultSlot.lifecycle;
}

/**
 * Makes `lifecycle` the process default, for apps that configure their own
 * (budget, logger) before mounting keel packages. Throws if another one is already in use.
 */
export function setDefaultLifecycle(lifecycle: Lifecycle): void {
  if (defaultSlot.lifecycle !== undefined && defaultSlot.lifecycle !== lifecycle) {
    throw new InvalidOptionError('@keel/lifecycle', 'setDefaultLifecycle', 'called before any keel package created the default lifecycle', 'a default lifecycle already in use');
  }
  defaultSlot.lifecycle = lifecycle;
}
