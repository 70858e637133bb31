// The server's wrapStore test hook, used to wait for conditions the public API cannot show: that a
// stored message's push requests have been worked out (its "fanout" settled), and that a closed
// stream's user is offline in the store (the server writes that in the background). Waiting for
// both before a presence or configuration change keeps the model exact without sleeping. An
// optional `breakage` decorates the store further, to prove the model catches a broken server.
import type { Store } from "@narrowcast/server";

/** A fanout's delivery ID ends in `_f` (store/webhook-rows.ts deliveryIdOf). */
const isFanout = (deliveryId: string) => deliveryId.endsWith("_f");

export class StoreProbe {
  /** Fanouts settled (expanded, completed or killed), per app. */
  private readonly settled = new Map<string, Set<string>>();
  private inner: Store | undefined;

  constructor(private readonly breakage?: (store: Store) => Store) {}

  /** For `ServerOptions.wrapStore`; every node of a deployment shares one probe. */
  readonly wrap = (store: Store): Store => {
    this.inner ??= store;
    const probe = this;
    const observed = new Proxy(store, {
      get(target, prop, receiver) {
        if (prop === "expandPush") {
          return async (...args: Parameters<Store["expandPush"]>) => {
            await target.expandPush(...args);
            probe.settle(args[0], args[1]);
          };
        }
        if (prop === "completeDelivery" || prop === "killDelivery") {
          return async (appId: string, deliveryId: string, ...rest: unknown[]) => {
            await (target[prop] as (...a: unknown[]) => Promise<void>).call(target, appId, deliveryId, ...rest);
            if (isFanout(deliveryId)) probe.settle(appId, deliveryId);
          };
        }
        const value = Reflect.get(target, prop, receiver);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    return this.breakage ? this.breakage(observed) : observed;
  };

  private settle(appId: string, deliveryId: string): void {
    let ids = this.settled.get(appId);
    if (!ids) this.settled.set(appId, (ids = new Set()));
    ids.add(deliveryId);
  }

  fanoutsSettled(appId: string): number {
    return this.settled.get(appId)?.size ?? 0;
  }

  /** Whether the store counts the user online (on any node): asked of the undecorated store. */
  async online(appId: string, userId: string): Promise<boolean> {
    if (!this.inner) throw new Error("the probe's store was never wrapped");
    return (await this.inner.onlineUsers(appId, [userId], Date.now())).has(userId);
  }
}
