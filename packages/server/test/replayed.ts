// Store tests read the replay's events decoded: Store.readEvents returns them as stored bytes
// (the Subscribe paths send those bytes as they are, frames.ts).
import { fromBinary } from "@bufbuild/protobuf";
import { EventSchema, type Event } from "@narrowcast/gen";
import type { ReplayedEvent, Store } from "../src/store/types.js";

export type DecodedReplay = ReplayedEvent & { appId: string; event: Event };

/** Store.readEvents with each event decoded. */
export async function readEvents(store: Store, appId: string, userId: string, after: readonly number[], limit: number): Promise<DecodedReplay[]> {
  const events = await store.readEvents(appId, userId, after, limit);
  return events.map((e) => ({ ...e, appId, event: fromBinary(EventSchema, e.payload) }));
}
