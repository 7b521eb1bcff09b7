import type { IncomingMessage } from 'node:http';

interface RoutedRequest extends IncomingMessage {
  route?: { path?: unknown };
  baseUrl?: unknown;
  originalUrl?: unknown;
}

// A pattern of static and `:param` segments only: it matches exactly as many path segments as it has.
const SIMPLE_PATTERN = /^(?:\/(?:[^/:*?(){}[\]\\]+|:[A-Za-z_$][\w$]*))*\/?$/;

/**
 * The pattern of the route Express matched (`/users/:id`), prefixed by the path
 * its router is mounted at, or `undefined` when no route matched. Never the raw
 * path: the set of values is the set of routes in the code.
 *
 * The router's mount path is `req.baseUrl` while the router answers; once an
 * error has left the router, Express has reset it, and the prefix is read from
 * the URL instead: the segments before the ones the route's pattern matched.
 */
export function matchedRoute(req: IncomingMessage): string | undefined {
  const { route, baseUrl } = req as RoutedRequest;
  if (route === undefined || route === null) return undefined;
  const path = route.path;
  if (typeof path !== 'string') return Array.isArray(path) ? path.map(String).join(',') : String(path);
  if (typeof baseUrl === 'string' && baseUrl.length > 0) return path === '/' ? baseUrl : baseUrl + path;
  const prefix = prefixBefore(req, path);
  if (prefix === '') return path;
  return path === '/' ? prefix : prefix + path;
}

// Patterns come from the code: a few dozen, each analysed once.
const SEGMENTS = new Map<string, number>();

/** How many path segments `pattern` matches, or -1 when that varies (wildcards, optional parts, regular expressions). */
function segmentsOf(pattern: string): number {
  let segments = SEGMENTS.get(pattern);
  if (segments === undefined) {
    segments = -1;
    if (SIMPLE_PATTERN.test(pattern)) {
      segments = 0;
      for (let index = 0; index < pattern.length - 1; index++) if (pattern.charCodeAt(index) === 47 /* / */) segments++;
    }
    if (SEGMENTS.size < 10_000) SEGMENTS.set(pattern, segments);
  }
  return segments;
}

/** The part of the request's path before the segments `pattern` matched, when that can be told. */
function prefixBefore(req: IncomingMessage, pattern: string): string {
  const { originalUrl } = req as RoutedRequest;
  let segments = segmentsOf(pattern);
  if (typeof originalUrl !== 'string' || segments < 0) return '';
  let end = originalUrl.indexOf('?');
  if (end === -1) end = originalUrl.length;
  if (end > 1 && originalUrl.charCodeAt(end - 1) === 47 /* / */) end--;
  let cut = end;
  for (; segments > 0 && cut > 0; segments--) cut = originalUrl.lastIndexOf('/', cut - 1);
  return cut > 0 ? originalUrl.slice(0, cut) : '';
}
