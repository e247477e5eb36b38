/** Links from an alert or a bot reply to its trace in Grafana (Tempo). */

/** Where trace links point (`grafana.*` in config). */
export interface GrafanaLinkOptions {
  /** Grafana base URL; empty or absent means no links. */
  url?: string;
  /** UID of the Tempo datasource (default `tempo`). */
  tempoDatasourceUid?: string;
}

/**
 * A Grafana Explore link that opens one trace in Tempo, or undefined without `grafana.url` or a
 * trace id.
 */
export function traceLink(
  grafana: GrafanaLinkOptions | undefined,
  traceId: string | undefined,
): string | undefined {
  const base = grafana?.url?.replace(/\/+$/, "");
  if (!base || !traceId) return undefined;
  const uid = grafana?.tempoDatasourceUid ?? "tempo";
  const panes = {
    trace: {
      datasource: uid,
      queries: [{ refId: "A", datasource: { type: "tempo", uid }, queryType: "traceql", query: traceId }],
      range: { from: "now-1h", to: "now" },
    },
  };
  return `${base}/explore?schemaVersion=1&orgId=1&panes=${encodeURIComponent(JSON.stringify(panes))}`;
}
