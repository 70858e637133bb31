// The single-receiver form (seeds/001 and the Flutter page, seeds/002): "if you fill in both
// receiver and groupID, the message is sent to that one user inside the group: it shows in
// the group chat, and only that receiver can see it". Also shows the history each member
// sees: the others get a gap in the seq numbers (rule TGT-8).
//
//   NARROWCAST_ADMIN_KEY=... npx tsx examples/single-receiver.ts
import { createTextMessage, isTargeted } from "@narrowcast/client";
import type { Message } from "@narrowcast/client";
import { runIfMain, startDemo, textOf } from "./demo.js";
import type { ExampleOptions } from "./demo.js";

export interface Result {
  sent: Message;
  received: Record<string, string[]>;
  /** Seq numbers of the history each user sees. */
  historySeqs: Record<string, number[]>;
}

export async function main(options: ExampleOptions = {}): Promise<Result> {
  const log = options.log ?? console.log;
  const demo = await startDemo(options, ["me", "userID", "other"], "groupID");
  try {
    const me = demo.users.me.client;
    await demo.everyoneHas("me", "good morning");

    // receiver + groupID: a targeted message to one member, shown in the group chat. On the wire
    // it is a receiver list of one (receiver_ids: ["userID"]).
    const sent = await me.sendMessage(createTextMessage("just for you"), { groupId: "groupID", receiver: "userID" });
    log(`sent #${sent.seq} to ${sent.receiverIds.join(", ")} (targeted: ${isTargeted(sent)})`);

    await demo.everyoneHas("me", "see you");
    const received: Record<string, string[]> = {};
    const historySeqs: Record<string, number[]> = {};
    for (const [id, user] of Object.entries(demo.users)) {
      received[id] = user.received;
      // The latest page of history (ascending by seq); `user.client.messages(...)` would walk it all.
      const history = await user.client.listMessages("groupID");
      historySeqs[id] = history.items.map((m) => m.seq);
      log(`${id} history: ${history.items.map((m) => `#${m.seq} ${JSON.stringify(textOf(m))}`).join(", ")}`);
    }
    return { sent, received, historySeqs };
  } finally {
    await demo.close();
  }
}

runIfMain(import.meta.url, main);
