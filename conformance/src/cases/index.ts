// Every case of the suite, grouped by the area of their main rule.
import type { ConformanceCase } from "../case.js";
import { admCases } from "./adm.js";
import { authCases } from "./auth.js";
import { cnvCases } from "./cnv.js";
import { edtCases } from "./edt.js";
import { rctCases } from "./rct.js";
import { rplCases } from "./rpl.js";
import { rcpCases } from "./rcp.js";
import { errCases } from "./err.js";
import { evtCases } from "./evt.js";
import { grpCases } from "./grp.js";
import { hookCases } from "./hook.js";
import { msgCases } from "./msg.js";
import { pagCases } from "./pag.js";
import { replayCases } from "./replay.js";
import { srvCases } from "./srv.js";
import { streamCases } from "./stream.js";
import { tgtCases } from "./tgt.js";
import { unrCases } from "./unr.js";
import { viewerCases } from "./viewer.js";
import { wireCases } from "./wire.js";

export const allCases: readonly ConformanceCase[] = [
  ...wireCases,
  ...srvCases,
  ...errCases,
  ...authCases,
  ...admCases,
  ...grpCases,
  ...msgCases,
  ...edtCases,
  ...rctCases,
  ...rplCases,
  ...rcpCases,
  ...pagCases,
  ...tgtCases,
  ...unrCases,
  ...cnvCases,
  ...evtCases,
  ...replayCases,
  ...streamCases,
  ...viewerCases,
  ...hookCases,
];

const seen = new Set<string>();
for (const c of allCases) {
  if (seen.has(c.id)) throw new Error(`duplicate case ID ${c.id}`);
  seen.add(c.id);
}
