import { z } from "zod";
import { section } from "./common.js";

export const grafanaSection = section({
  /** Base URL of Grafana, e.g. `http://localhost:3000`; enables trace links in alerts. */
  url: z.string().default(""),
  /** UID of the Tempo datasource the links open. */
  tempo_datasource_uid: z.string().min(1).default("tempo"),
});
