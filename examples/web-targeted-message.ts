// The vendor web SDK page's example (seeds/000): create a targeted group message with
// `receiverList` in the message builder, send it, and see that only the receivers get it.
//
//   NARROWCAST_ADMIN_KEY=... npx tsx examples/web-targeted-message.ts
import { TYPES } from "@narrowcast/client";
import type { Message } from "@narrowcast/client";
import { runIfMain, startDemo } from "./demo.js";
import type { ExampleOptions } from "./demo.js";

export interface Result {
  sent: Message;
  /** Text messages each user received. */
  received: Record<string, string[]>;
}

export async function main(options: ExampleOptions = {}): Promise<Result> {
  const log = options.log ?? console.log;
  const demo = await startDemo(options, ["me", "user0", "user1", "user2"], "test");
  try {
    const tim = demo.users.me.client;

    // Create a targeted group message
    const message = tim.createTextMessage({
      to: "test",
      conversationType: TYPES.CONV_GROUP,
      payload: {
        text: "Hello world!",
      },
      // Only these members (and the sender) will ever see the message; at most 50.
      receiverList: ["user0", "user1"],
    });

    // Send the message
    const sent = await tim.sendMessage(message).then(
      (imResponse) => {
        log(`sent #${imResponse.seq} to ${imResponse.receiverIds.join(", ")}`);
        return imResponse;
      },
      (imError) => {
        log(`sendMessage error: ${imError}`);
        throw imError;
      },
    );

    // Receiving works as for any message (the messageReceived event). An ordinary message to
    // everyone shows that user2 saw nothing before it.
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
