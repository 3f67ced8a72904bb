// How every backend client asks: a GET with a time limit, and one error type that says which
// backend did not answer, or what it answered, so a tool can print it as one line.

/** A backend that did not answer, or answered with an error status. */
export class BackendError extends Error {}

/** GETs `url` from `backend` (its name, for the message) and returns the body as text. */
export async function getText(backend: string, url: string): Promise<string> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  } catch (err) {
    const why = (err as Error).message;
    throw new BackendError(`${backend} does not answer at ${new URL(url).origin} (${why}): start the stack with pnpm stack:native or pnpm stack:up`);
  }
  const text = await res.text();
  if (!res.ok) throw new BackendError(`${backend} answered HTTP ${res.status} to ${url}: ${text.trim().slice(0, 500)}`);
  return text;
}

export async function getJson<T>(backend: string, url: string): Promise<T> {
  return JSON.parse(await getText(backend, url)) as T;
}

/**
 * Polls `check` until it returns a value other than undefined; fails with `what` after `timeoutMs`,
 * with the last error `check` threw (a backend still starting is asked again, not given up on).
 */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 40_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last: ${(last as Error).message})` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
