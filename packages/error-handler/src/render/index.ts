import type { ErrorFormat } from '../negotiate';
import { renderHtml } from './html';
import { renderJson } from './json';
import { renderProblemJson } from './problem-json';
import { renderText } from './text';
import type { Renderer } from './view';

export type { ErrorView, DebugView, Renderer } from './view';

/** The renderer of each format. */
export const RENDERERS: Readonly<Record<ErrorFormat, Renderer>> = Object.freeze({
  'problem+json': renderProblemJson,
  json: renderJson,
  html: renderHtml,
  text: renderText,
});
