import fs from 'node:fs';
import path from 'node:path';

const packageDir = path.join(__dirname, '..');

/**
 * Fixtures load `@keel/lifecycle` from its built `dist/`: fail with a clear
 * message, not a confusing assertion, when the build is older than a source file.
 */
export function assertBuilt(): void {
  const srcDir = path.join(packageDir, 'src');
  for (const file of fs.readdirSync(srcDir).filter((name) => name.endsWith('.ts'))) {
    const built = path.join(packageDir, 'dist', file.replace(/\.ts$/, '.js'));
    if (!fs.existsSync(built) || fs.statSync(built).mtimeMs < fs.statSync(path.join(srcDir, file)).mtimeMs) {
      throw new Error(`packages/lifecycle/dist is older than src/${file}: run \`npm run build\` before these tests`);
    }
  }
}

/** The absolute path of a fixture program. */
export function fixture(name: string): string {
  return path.join(__dirname, 'fixtures', name);
}
