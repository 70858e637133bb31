// (e) Memory of idle subscribers: N users, each in a group of 1,000 and each with one open
// Subscribe stream (lean client, 100 streams per HTTP/2 connection). Reports the growth of the
// process's resident memory, client and server together, so it overstates the server's share.
import { userIds, type BenchEnv } from "./env.js";
import { RawSubscriberConnection } from "./raw-subscriber.js";
import { sleep } from "./stats.js";

export interface IdleResult {
  subscribers: number;
  connections: number;
  rssBeforeMiB: number;
  rssAfterMiB: number;
  rssGrowthMiB: number;
  heapGrowthMiB: number;
  /** RSS growth per subscriber, KiB. */
  perSubscriberKiB: number;
}

const MiB = 2 ** 20;

function settle(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

export async function idleSubscribers(env: BenchEnv, o: { subscribers: number; perConnection: number }): Promise<IdleResult> {
  const users = userIds("idle-", o.subscribers);
  await env.importUsers(users);
  for (let i = 0; i < users.length; i += 1000) {
    const slice = users.slice(i, i + 1000);
    await env.createGroup(`idle-${i}`, slice[0], slice.slice(1));
  }
  settle();
  const before = process.memoryUsage();
  const connections: RawSubscriberConnection[] = [];
  const cancels: (() => void)[] = [];
  let ready = 0;
  let failed = 0;
  for (let i = 0; i < users.length; i++) {
    if (i % o.perConnection === 0) connections.push(new RawSubscriberConnection(env.server.url));
    const authorization = ((await env.as(users[i])).headers as Record<string, string>).authorization;
    cancels.push(
      connections[connections.length - 1].subscribe(
        authorization,
        (item) => {
          if (item.item.case === "ready") ready++;
        },
        (err) => {
          if (err) failed++;
        },
      ),
    );
  }
  while (ready + failed < users.length) await sleep(50);
  if (failed) throw new Error(`${failed} idle subscriptions failed`);
  settle();
  await sleep(300);
  settle();
  const after = process.memoryUsage();
  for (const cancel of cancels) cancel();
  for (const c of connections) c.close();
  const rssGrowthMiB = (after.rss - before.rss) / MiB;
  return {
    subscribers: users.length,
    connections: connections.length,
    rssBeforeMiB: before.rss / MiB,
    rssAfterMiB: after.rss / MiB,
    rssGrowthMiB,
    heapGrowthMiB: (after.heapUsed - before.heapUsed) / MiB,
    perSubscriberKiB: (rssGrowthMiB * 1024) / users.length,
  };
}
