import fs from 'node:fs';
import path from 'node:path';

const packagesDir = path.join(__dirname, '..', '..');

/**
 * Fixtures load `@keel/async-guard` and `@keel/lifecycle` from their built
 * `dist/`: fail with a clear message when a build is older than a source file.
 */
export function assertBuilt(): void {
  const mtime = (file: string): number => (fs.existsSync(file) ? fs.statSync(file).mtimeMs : 0);
  for (const name of ['async-guard', 'lifecycle']) {
    const srcDir = path.join(packagesDir, name, 'src');
    // `tsc -b` does not rewrite an output whose source content is unchanged; it touches the build info.
    const buildInfo = mtime(path.join(packagesDir, name, 'tsconfig.tsbuildinfo'));
    for (const file of fs.readdirSync(srcDir).filter((entry) => entry.endsWith('.ts'))) {
      const built = path.join(packagesDir, name, 'dist', file.replace(/\.ts$/, '.js'));
      const source = mtime(path.join(srcDir, file));
      if (!fs.existsSync(built) || Math.max(mtime(built), buildInfo) < source) {
        throw new Error(`packages/${name}/dist is older than src/${file}: run \`npm run build\` before these tests`);
      }
    }
  }
}

/** The absolute path of a fixture program. */
export function fixture(name: string): string {
  return path.join(__dirname, 'fixtures', name);
}
