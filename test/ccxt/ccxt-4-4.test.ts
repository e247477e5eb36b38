import { ccxtSuite } from "./suite.js";

// ccxt 4.4 (installed as the npm alias `ccxt-4-4`): the same behaviour on the older release.
ccxtSuite("ccxt-4-4");
