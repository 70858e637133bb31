// One scenario: load on a cluster, a fault for a window, then quiescence and the exact check.
import { check, type CheckResult } from "./check.js";
import type { Cluster } from "./cluster.js";
import { FAULTS, type FaultName } from "./faults.js";
import { Load } from "./load.js";
import { sleep } from "./ports.js";
import { Random } from "./random.js";

export interface ScenarioOptions {
  fault: FaultName;
  windowSeconds: number;
  /** Load before the fault and after it, seconds. */
  beforeSeconds?: number;
  afterSeconds?: number;
  rate?: number;
  seed?: number;
  /** Bound on waiting for acknowledgements and then for delivery, each (ms). */
  quiescenceMs?: number;
}

export interface ScenarioResult {
  fault: FaultName;
  nodes: number;
  windowSeconds: number;
  sent: number;
  devices: number;
  check: CheckResult;
  /** Error-level log lines each node wrote during the scenario. */
  nodeErrors: { node: number; count: number; sample: string }[];
  /** Whether every expected delivery arrived within the quiescence bound. */
  quiescent: boolean;
}

let scenarioCounter = 0;

export async function runScenario(cluster: Cluster, options: ScenarioOptions): Promise<ScenarioResult> {
  const fault = FAULTS[options.fault];
  const seed = options.seed ?? 1;
  const quiescenceMs = options.quiescenceMs ?? 30_000;
  const logOffsets = cluster.nodes.map((node) => node.errorLines().length);
  const label = `${options.fault}-${cluster.nodes.length}n-${++scenarioCounter}`;
  const load = await Load.setUp({ urls: cluster.urls, users: 10, groups: 4, twoDevices: 4, rate: options.rate ?? 40, targetedShare: 0.3, random: new Random(seed), label });
  const window = { start: 0, end: 0 };
  let quiescent = false;
  try {
    load.startSending();
    await sleep((options.beforeSeconds ?? 1.5) * 1000);
    window.start = Date.now();
    await fault.begin(cluster);
    await sleep(Math.max(0, window.start + options.windowSeconds * 1000 - Date.now()));
    await fault.end(cluster);
    window.end = Date.now();
    await sleep((options.afterSeconds ?? 2) * 1000);
    await load.stopSending(quiescenceMs);
    const deadline = Date.now() + quiescenceMs;
    while (Date.now() < deadline) {
      if (check(load.sent, load.devices, load.groups, window, []).missed.length === 0) {
        quiescent = true;
        break;
      }
      await sleep(250);
    }
    // Late copies (duplicates) would arrive now.
    await sleep(500);
  } finally {
    await load.close();
  }
  const result = check(load.sent, load.devices, load.groups, window, load.sendErrors);
  const nodeErrors = cluster.nodes.map((node, i) => {
    const lines = node.errorLines().slice(logOffsets[i]);
    return { node: i, count: lines.length, sample: lines[0]?.slice(0, 300) ?? "" };
  });
  // The next scenario starts on a healthy cluster.
  await cluster.waitReady();
  return { fault: options.fault, nodes: cluster.nodes.length, windowSeconds: options.windowSeconds, sent: load.sent.length, devices: load.devices.length, check: result, nodeErrors, quiescent };
}
