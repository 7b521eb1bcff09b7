import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { adaptHaproxyConfig, adaptNginxConfig } from './proxies';
import { findProgram, requireProgram } from './system';

const upstreams = [
  { host: '127.0.0.1', port: 4001 },
  { host: '127.0.0.1', port: 4002 },
];

describe('docs test support', () => {
  it('points a haproxy config at the test\'s ports and keeps everything else', () => {
    const config = ['frontend web', '    bind :8080', 'backend app', '    option httpchk', '    server app1 10.0.0.11:3000 check', '    server app2 10.0.0.12:3000 check', ''].join('\n');
    expect(adaptHaproxyConfig(config, 5000, upstreams)).toBe(
      ['frontend web', '    bind 127.0.0.1:5000', 'backend app', '    option httpchk', '    server app1 127.0.0.1:4001 check', '    server app2 127.0.0.1:4002 check', ''].join('\n'),
    );
    expect(() => adaptHaproxyConfig(config, 5000, upstreams.slice(0, 1))).toThrow(/more servers than the 1 upstreams/);
  });

  it('points an nginx site config at the test\'s ports, leaving server blocks alone', () => {
    const config = ['upstream app {', '    server 10.0.0.11:3000 max_fails=1;', '    server 10.0.0.12:3000;', '}', 'server {', '    listen 8080;', '}', ''].join('\n');
    expect(adaptNginxConfig(config, 5000, upstreams)).toBe(
      ['upstream app {', '    server 127.0.0.1:4001 max_fails=1;', '    server 127.0.0.1:4002;', '}', 'server {', '    listen 127.0.0.1:5000;', '}', ''].join('\n'),
    );
    expect(() => adaptNginxConfig(config, 5000, [...upstreams, { host: '127.0.0.1', port: 4003 }])).toThrow(/names 2 servers, the test gave 3/);
  });

  it('fails with the install command when a program is missing', () => {
    expect(findProgram(['sh'])).toMatch(/\/sh$/);
    expect(() => requireProgram('frobnicator', ['keel-no-such-program', '/no/such/file'], 'frobnicator-pkg')).toThrow(/apt-get install -y --no-install-recommends frobnicator-pkg.*KEEL_SKIP_SYSTEM_TESTS=1/s);
  });

  it('runs an app file\'s require(\'express\') on Express 4 through the preload', () => {
    const script = "console.log(require.resolve('express'))";
    const cwd = path.join(__dirname, '..', 'recipes');
    const on4 = execFileSync(process.execPath, ['--require', path.join(__dirname, 'use-express4.js'), '-e', script], { cwd, encoding: 'utf8' }).trim();
    const on5 = execFileSync(process.execPath, ['-e', script], { cwd, encoding: 'utf8' }).trim();
    expect(on4).toMatch(/node_modules[/\\]express4[/\\]/);
    expect(on5).toMatch(/node_modules[/\\]express[/\\]/);
  });
});
