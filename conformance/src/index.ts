// Programmatic API of the Narrowcast conformance suite.
export { allCases } from "./cases/index.js";
export { defineCase, type ConformanceCase } from "./case.js";
export { CheckFailure, SkipCase, check, durationMs, expectEqual } from "./check.js";
export { coverage, uncoveredRules, unknownRules, type RuleCoverage } from "./coverage.js";
export { ERROR_DOMAIN, checkError, detailProblems, expectError, observe, reasonOf, type ErrorSummary, type ExpectedError, type ObservedError } from "./errors.js";
export { AppFixture, UserHandle, type CaseContext, type World } from "./fixtures.js";
export { KnownFailing, parseKnownFailing, readKnownFailing } from "./known-failing.js";
export { main } from "./main.js";
export { cellId, codecs, compressions, executionOrder, httpVersions, matrixModes, planCells, planRuns, runId, type Cell, type Codec, type Compression, type MatrixMode, type PlannedRun } from "./matrix.js";
export { formatFailure, formatPlan, formatProgress, formatSummary, rerunFlags } from "./report/console.js";
export { formatJson } from "./report/json.js";
export { formatJunit } from "./report/junit.js";
export { matchesFilter, planSuite, runSuite, type CaseResult, type CaseStatus, type CellSummary, type SuiteOptions, type SuitePlan, type SuiteResult } from "./runner.js";
export { defaultSpecPath, parseRuleIds, readRuleIds, ruleArea, ruleAreas } from "./spec.js";
export { Subscription } from "./subscription.js";
export { protocols, type HttpVersion, type Protocol } from "./transport.js";
