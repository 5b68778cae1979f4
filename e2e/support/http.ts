import type { StandardEvent } from "@market-scraper/events";

export async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** Every page of a `/v1` list endpoint (following `next_cursor`). */
export async function getAll(baseUrl: string, path: string): Promise<StandardEvent[]> {
  const out: StandardEvent[] = [];
  let cursor: string | null = null;
  do {
    const sep = path.includes("?") ? "&" : "?";
    const url: string = `${baseUrl}${path}${sep}limit=1000${cursor === null ? "" : `&cursor=${encodeURIComponent(cursor)}`}`;
    const page: { data: StandardEvent[]; next_cursor: string | null } = await getJson(url);
    out.push(...page.data);
    cursor = page.next_cursor;
  } while (cursor !== null);
  return out;
}
