import { InProcessBus } from "../src/bus/memory.js";
import { busContract } from "./bus-contract.js";

busContract("InProcessBus", async () => new InProcessBus());
