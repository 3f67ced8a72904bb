// Prometheus's HTTP API: an instant query.
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
