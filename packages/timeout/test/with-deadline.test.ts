import { getEventListeners } from 'node:events';
import { getDeadline, getSignal, remaining, withDeadline, isDownstreamTimeoutError } from '@keel/timeout';
import { activeTimeouts, sleep } from './helpers';

async function settled<T>(promise: Promise<T>): Promise<{ value?: T; error?: unknown }> {
  try {
    return { value: await promise };
  } catch (error) {
    return { error };
  }
}

describe('withDeadline()', () => {
  it('resolves with what fn returns and clears its timer', async () => {
    const timersBefore = activeTimeouts();
    await expect(withDeadline(1000, async (signal) => (signal.aborted ? 'aborted' : 'ok'))).resolves.toBe('ok');
    expect(activeTimeouts()).toBe(timersBefore);
  });

  it('rejects with DownstreamTimeoutError at its deadline even when fn ignores the signal', async () => {
    let seen: AbortSignal | undefined;
    const startedAt = Date.now();
    const outcome = await settled(
      withDeadline('50ms', (signal) => {
        seen = signal;
        return new Promise(() => undefined);
      }),
    );
    expect(isDownstreamTimeoutError(outcome.error)).toBe(true);
    expect((outcome.error as { status: number }).status).toBe(504);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(45);
    expect(seen!.aborted).toBe(true);
    expect(seen!.reason).toBe(outcome.error);
  });

  it('passes on a rejection of fn that is not its deadline', async () => {
    const failure = new Error('downstream said no');
    const outcome = await settled(withDeadline(1000, async () => Promise.reject(failure)));
    expect(outcome.error).toBe(failure);
    const thrown = await settled(
      withDeadline(1000, () => {
        throw failure;
      }),
    );
    expect(thrown.error).toBe(failure);
  });

  it('nests: an inner scope sees its own deadline and signal, never a longer one than the outer', async () => {
    await withDeadline(2000, async (outer) => {
      expect(getSignal()).toBe(outer);
      const outerDeadline = getDeadline()!;
      expect(outerDeadline - Date.now()).toBeLessThanOrEqual(2000);
      await withDeadline(100, async (inner) => {
        expect(getSignal()).toBe(inner);
        expect(remaining()).toBeLessThanOrEqual(100);
      });
      await withDeadline(60_000, async () => {
        expect(getDeadline()).toBe(outerDeadline);
      });
      expect(getSignal()).toBe(outer);
    });
    expect(getSignal()).toBeUndefined();
  });

  it('aborts with the outer reason when the outer scope expires first, and removes its listener from the outer signal', async () => {
    let outerSignal: AbortSignal | undefined;
    let listenersWhileRunning = 0;
    const outcome = await settled(
      withDeadline(60, (outer) => {
        outerSignal = outer;
        return withDeadline(5000, (inner) => {
          listenersWhileRunning = getEventListeners(outer, 'abort').length;
          return new Promise((_resolve, reject) => inner.addEventListener('abort', () => reject(inner.reason)));
        });
      }),
    );
    expect(isDownstreamTimeoutError(outcome.error)).toBe(true);
    expect(listenersWhileRunning).toBe(1);
    expect(getEventListeners(outerSignal!, 'abort')).toHaveLength(0);
  });

  it('removes its listener from the outer signal when it settles first', async () => {
    await withDeadline(5000, async (outer) => {
      for (let i = 0; i < 100; i++) await withDeadline(1000, async () => i);
      expect(getEventListeners(outer, 'abort')).toHaveLength(0);
    });
  });

  it('does not run fn when the outer signal has already aborted', async () => {
    let ran = false;
    let innerOutcome: Promise<{ value?: unknown; error?: unknown }> | undefined;
    const outcome = await settled(
      withDeadline(30, async () => {
        await sleep(80);
        innerOutcome = settled(
          withDeadline(1000, async () => {
            ran = true;
          }),
        );
      }),
    );
    expect(isDownstreamTimeoutError(outcome.error)).toBe(true);
    await sleep(100);
    expect(isDownstreamTimeoutError((await innerOutcome!).error)).toBe(true);
    expect(ran).toBe(false);
  });
});
