// Prometheus's HTTP API: an instant query, and a range query (what the Graph tab draws).
import { URLS } from '../stack/urls.ts';
import { getJson } from './http.ts';

export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

export const promQueryUrl = (query: string): string => `${URLS.prometheus}/api/v1/query?${new URLSearchParams({ query })}`;

export async function promQuery(query: string): Promise<PromSample[]> {
  return (await getJson<{ data: { result: PromSample[] } }>('Prometheus', promQueryUrl(query))).data.result;
}

export interface PromRange {
  metric: Record<string, string>;
  values: Array<[number, string]>;
}

/** The series `query` gives over the last `seconds`, a point every `stepSeconds`. */
export async function promQueryRange(query: string, seconds: number, stepSeconds: number): Promise<PromRange[]> {
  const end = Date.now() / 1000;
  const params = new URLSearchParams({ query, start: String(end - seconds), end: String(end), step: String(stepSeconds) });
  return (await getJson<{ data: { result: PromRange[] } }>('Prometheus', `${URLS.prometheus}/api/v1/query_range?${params}`)).data.result;
}
