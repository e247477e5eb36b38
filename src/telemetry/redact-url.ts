/**
 * Redaction of URLs before they become span attributes. Exchanges sign requests in the query
 * string (`...&timestamp=1700000000000&signature=9f86d0...`) and some take the API key there
 * too, so a URL attribute recorded as it was sent leaks credentials to every trace backend.
 */

/** What a redacted value is replaced with (the OpenTelemetry HTTP instrumentation's own marker). */
export const REDACTED = "REDACTED";

/**
 * Query parameters whose values never reach an attribute: the names exchanges use for
 * signatures, keys and passphrases, and the OpenTelemetry semantic conventions' list for
 * `url.query` / `url.full` (`AWSAccessKeyId`, `Signature`, `sig`, `X-Goog-Signature`, and the
 * HTTP instrumentation's AWS additions). Compared case-insensitively by {@link redactUrl}.
 */
export const SENSITIVE_QUERY_PARAMS: readonly string[] = [
  "signature",
  "sig",
  "sign",
  "apikey",
  "api_key",
  "api-key",
  "key",
  "access_key",
  "accesskey",
  "token",
  "access_token",
  "secret",
  "api_secret",
  "passphrase",
  "password",
  "awsaccesskeyid",
  "x-goog-signature",
  "x-amz-signature",
  "x-amz-credential",
  "x-amz-security-token",
];

const SENSITIVE = new Set(SENSITIVE_QUERY_PARAMS);

/**
 * Every sensitive name contains one of these; a query without any of them needs no parsing (the
 * usual public request, `?symbol=BTCUSDT&limit=5`, is then one regular-expression test).
 * Percent-encoded names (`api%5Fkey`) still contain `key`.
 */
const MAY_BE_SENSITIVE = /sig|key|token|secret|pass|credential/i;

/**
 * The same list in the spellings the HTTP instrumentation's `redactedQueryParams` needs: it
 * matches names exactly, so each name is given in lower case, as written by exchanges
 * (`apiKey`, `Signature`, `X-MBX-...`) and in upper case.
 */
export function caseVariants(names: readonly string[] = SENSITIVE_QUERY_PARAMS): string[] {
  const out = new Set<string>();
  const known = ["apiKey", "accessKey", "Signature", "AWSAccessKeyId", "X-Goog-Signature", "X-Amz-Signature"];
  for (const name of [...names, ...known]) {
    out.add(name);
    out.add(name.toLowerCase());
    out.add(name.toUpperCase());
    out.add(name.charAt(0).toUpperCase() + name.slice(1));
  }
  return [...out];
}

/** Whether a query parameter name is one whose value is redacted. */
export function isSensitiveParam(name: string): boolean {
  return SENSITIVE.has(name.toLowerCase());
}

/**
 * The query string (without or with its leading `?`, kept as given) with the value of every
 * sensitive parameter replaced by `REDACTED`; the other parameters and their order are kept.
 * Works on the raw text, so values that are not valid percent-encoding survive unchanged.
 */
export function redactQuery(query: string): string {
  if (query === "" || query === "?" || !MAY_BE_SENSITIVE.test(query)) return query;
  const lead = query.startsWith("?") ? "?" : "";
  const body = lead ? query.slice(1) : query;
  const parts = body.split("&").map((part) => {
    const at = part.indexOf("=");
    const rawName = at === -1 ? part : part.slice(0, at);
    let name = rawName;
    try {
      name = decodeURIComponent(rawName.replace(/\+/g, " "));
    } catch {
      // a malformed escape: compare the raw text
    }
    if (!isSensitiveParam(name)) return part;
    return `${rawName}=${REDACTED}`;
  });
  // With nothing sensitive the parts join back to the query as given.
  return lead + parts.join("&");
}

/**
 * A URL (absolute or a path) with sensitive query values redacted and any `user:password@`
 * replaced by `REDACTED:REDACTED@`. A URL without a query or credentials is returned as it is,
 * without parsing (the common case costs one `indexOf`).
 */
export function redactUrl(url: string): string {
  // Nothing that could be a credential or a sensitive parameter (the usual public request):
  // the URL as it is, without slicing or joining it again.
  const firstQuery = url.indexOf("?");
  if (!url.includes("@") && (firstQuery === -1 || !MAY_BE_SENSITIVE.test(url.slice(firstQuery)))) return url;
  let out = url;
  const scheme = out.indexOf("://");
  if (scheme !== -1) {
    const hostStart = scheme + 3;
    const pathStart = out.slice(hostStart).search(/[/?#]/);
    const authority = pathStart === -1 ? out.slice(hostStart) : out.slice(hostStart, hostStart + pathStart);
    const at = authority.lastIndexOf("@");
    if (at !== -1) out = `${out.slice(0, hostStart)}${REDACTED}:${REDACTED}@${out.slice(hostStart + at + 1)}`;
  }
  const q = out.indexOf("?");
  if (q === -1) return out;
  const hash = out.indexOf("#", q);
  const query = hash === -1 ? out.slice(q) : out.slice(q, hash);
  const rest = hash === -1 ? "" : out.slice(hash);
  return out.slice(0, q) + redactQuery(query) + rest;
}

const URL_IN_TEXT = /\bhttps?:\/\/[^\s"'<>]+/g;

/**
 * Free text (an error message, a stack) with every absolute URL in it passed through
 * {@link redactUrl}. Text without a URL, or whose URLs carry nothing sensitive, comes back as it is.
 */
export function redactUrlsInText(text: string): string {
  if (!text.includes("://")) return text;
  return text.replace(URL_IN_TEXT, (url) => redactUrl(url));
}
