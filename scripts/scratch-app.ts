import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(__dirname, '..');

/** A packed workspace package: its name and the path of its tarball. */
export interface PackedPackage {
  readonly name: string;
  readonly tarball: string;
}

/** Runs npm with output captured; throws with npm's stderr on failure. */
function npm(args: string[], cwd: string): string {
  try {
    return execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_update_notifier: 'false' } });
  } catch (error) {
    const failure = error as { stderr?: string; stdout?: string };
    throw new Error(`npm ${args.join(' ')} failed in ${cwd}:\n${failure.stderr ?? ''}${failure.stdout ?? ''}`);
  }
}

/** Packs every `packages/*` workspace with `npm pack` into `destination`, as a user would receive it. */
export function packWorkspaces(destination: string): PackedPackage[] {
  const output = npm(['pack', '--workspaces', '--json', '--pack-destination', destination], root);
  const packed = JSON.parse(output) as Array<{ name: string; filename: string }>;
  return packed
    .filter((entry) => entry.name.startsWith('@keel/') && entry.name !== '@keel/docs')
    .map((entry) => ({ name: entry.name, tarball: path.join(destination, entry.filename) }));
}

/** A throwaway app outside the repo with the packed tarballs installed from their files. */
export interface ScratchApp {
  readonly dir: string;
  readonly packages: readonly PackedPackage[];
  /** Removes the app's folder. */
  remove(): void;
}

/**
 * Packs the workspaces and installs the tarballs, with `extraDependencies` from
 * the registry, into a new app in the OS temp folder, far from the repo's
 * node_modules, so nothing resolves through the workspace.
 */
export function createScratchApp(extraDependencies: Record<string, string>): ScratchApp {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keel-scratch-'));
  const tarballs = path.join(dir, 'tarballs');
  fs.mkdirSync(tarballs);
  const packages = packWorkspaces(tarballs);
  const dependencies: Record<string, string> = { ...extraDependencies };
  for (const packed of packages) dependencies[packed.name] = `file:${path.relative(dir, packed.tarball)}`;
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'keel-scratch-app', private: true, dependencies }, null, 2));
  // --install-links copies file: dependencies as packed, as the registry would serve them.
  npm(['install', '--no-audit', '--no-fund', '--prefer-offline', '--install-links', '--no-package-lock'], dir);
  return { dir, packages, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}
