import { ccxtSuite } from "./suite.js";

// ccxt 4.5 (the version installed as `ccxt`), loaded through the instrumentation's require hook.
ccxtSuite("ccxt");
