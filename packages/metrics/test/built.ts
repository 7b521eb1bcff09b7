import fs from 'node:fs';
import path from 'node:path';

const packagesDir = path.join(__dirname, '..', '..');

/**
 * Fixtures load the keel packages from their built `dist/`: fail with a clear
 * message when a build is older than a source file.
 */
export function assertBuilt(): void {
  const mtime = (file: string): number => (fs.existsSync(file) ? fs.statSync(file).mtimeMs : 0);
  for (const name of ['metrics', 'lifecycle', 'async-guard', 'error-handler', 'drain', 'timeout']) {
    const srcDir = path.join(packagesDir, name, 'src');
    // `tsc -b` does not rewrite an output whose source content is unchanged; it touches the build info.
    const buildInfo = mtime(path.join(packagesDir, name, 'tsconfig.tsbuildinfo'));
    for (const file of fs.readdirSync(srcDir).filter((entry) => entry.endsWith('.ts'))) {
      const built = path.join(packagesDir, name, 'dist', file.replace(/\.ts$/, '.js'));
      if (!fs.existsSync(built) || Math.max(mtime(built), buildInfo) < mtime(path.join(srcDir, file))) {
        throw new Error(`packages/${name}/dist is older than src/${file}: run \`npm run build\` before these tests`);
      }
    }
  }
}
