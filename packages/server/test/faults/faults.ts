// The faults, each a begin and an end on a running cluster. Node faults hit node 0.
import type { Cluster } from "./cluster.js";

export interface Fault {
  name: FaultName;
  description: string;
  begin(cluster: Cluster): Promise<void>;
  end(cluster: Cluster): Promise<void>;
}

export const FAULT_NAMES = ["kill-node", "nats-down", "nats-cut", "nats-pause", "postgres-down"] as const;
export type FaultName = (typeof FAULT_NAMES)[number];

export const FAULTS: Record<FaultName, Fault> = {
  "kill-node": {
    name: "kill-node",
    description: "kill -9 node 0, restart it",
    begin: (c) => c.nodes[0].kill9(),
    end: (c) => c.nodes[0].start(),
  },
  "nats-down": {
    name: "nats-down",
    description: "nats-server killed, restarted on its port",
    begin: (c) => c.nats!.down(),
    end: (c) => c.nats!.up(),
  },
  "nats-cut": {
    name: "nats-cut",
    description: "node 0's NATS link cut (connections dropped, new ones refused)",
    begin: async (c) => c.links[0].cut(),
    end: async (c) => c.links[0].restore(),
  },
  "nats-pause": {
    name: "nats-pause",
    description: "node 0's NATS link paused (bytes held, then forwarded late)",
    begin: async (c) => c.links[0].pause(),
    end: async (c) => c.links[0].restore(),
  },
  "postgres-down": {
    name: "postgres-down",
    description: "PostgreSQL stopped (-m immediate), restarted on its port",
    begin: (c) => c.postgres!.down(),
    end: (c) => c.postgres!.up(),
  },
};
