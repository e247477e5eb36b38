/** Our own outgoing HTTP calls: one client on Node's fetch, its typed error and the helpers around it. */
export {
  createFetch,
  describeTarget,
  httpRequest,
  HttpError,
  parseJsonAnswer,
  rejection,
  requestJson,
  requestUrl,
  type AbortSignalLike,
  type FetchInit,
  type FetchOptions,
  type HttpAnswer,
  type HttpErrorOptions,
  type HttpRequest,
  type JsonRequest,
} from "./client.js";
