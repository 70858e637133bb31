// The vendor native SDK page's example (seeds/001, Android / iOS / Windows): create an
// ordinary message, turn it into a targeted one with createTargetedGroupMessage, and send it
// with sendMessage's native parameters (receiver, groupID, priority, onlineUserOnly,
// offlinePushInfo).
//
//   NARROWCAST_ADMIN_KEY=... npx tsx examples/native-targeted-message.ts
import { createTargetedGroupMessage, createTextMessage, MessagePriority } from "@narrowcast/client";
import type { Message } from "@narrowcast/client";
import { runIfMain, startDemo } from "./demo.js";
import type { ExampleOptions } from "./demo.js";

export interface Result {
  sent: Message;
  received: Record<string, string[]>;
}

export async function main(options: ExampleOptions = {}): Promise<Result> {
  const log = options.log ?? console.log;
  const demo = await startDemo(options, ["me", "vinson", "denny", "lisa"], "groupA");
  try {
    const messageManager = demo.users.me.client;

    // Create an original message object
    const v2TIMMessage = createTextMessage("This is a targeted group message");
    // Create a targeted group message object, and specify the recipients "vinson" and "denny"
    const targetGroupMemberList = ["vinson", "denny"];
    const targetGroupMessage = createTargetedGroupMessage(v2TIMMessage, targetGroupMemberList);

    // Send the targeted group message in groupA
    let sent: Message;
    try {
      sent = await messageManager.sendMessage(targetGroupMessage, {
        receiver: undefined,
        groupId: "groupA",
        priority: MessagePriority.NORMAL,
        onlineUserOnly: false,
        offlinePushInfo: undefined,
      });
      log(`onSuccess: #${sent.seq} targeted to ${sent.receiverIds.join(", ")}`);
    } catch (e) {
      log(`onError: ${e}`);
      throw e;
    }

    await demo.everyoneHas("me", "that was all");
    const received = Object.fromEntries(Object.entries(demo.users).map(([id, u]) => [id, u.received]));
    for (const [id, texts] of Object.entries(received)) {
      log(`${id} received: ${texts.map((t) => JSON.stringify(t)).join(", ")}`);
    }
    return { sent, received };
  } finally {
    await demo.close();
  }
}

runIfMain(import.meta.url, main);
