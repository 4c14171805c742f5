// Package posture turns device posture into the precomputed facts the
// proxy reads: per-check compliance results, an overall Compliant flag and
// a trust level (untrusted, low, medium, high), stored on store.Device.
//
// It holds:
//
//   - the compiled `compliance:`, `privacy:` and `posture_sources:`
//     configuration (Parse, FromConfig, Default), with file:line errors;
//   - a pure evaluation (Config.Evaluate) from a device, its signals and the
//     time to check results, the escalation step and trust;
//   - policy modes (mode.go, would.go): enforced policies decide; a
//     report-only policy is evaluated into the device's would-be verdict
//     (store.Device.Would) and its would-be escalations are recorded
//     (history, audit "compliance.would_escalate"), never acted on; a draft
//     is not evaluated. Package rules keeps the policies as versioned data;
//     Parse compiles what it holds;
//   - the Engine, which ingests agent reports (Ingest) and signed external
//     observations (IngestExternal, ExternalHandler), recomputes devices
//     when their lifecycle changes (Recompute), and moves time-driven state
//     forward with an injected clock (Run, Tick): escalation ladders,
//     devices going stale, and the retention purge;
//   - privacy: the data profile of each device (Profile) that decides what
//     the agent may collect and what the server keeps, the location rules
//     (working hours in the device's zone, a stated purpose, bounded
//     retention) and the employee-facing notice (Privacy, Notice.Text).
//
// Trust is computed when posture, policy or device state changes and when
// time passes, never per request. docs/compliance.md and docs/privacy.md
// are the admin documentation; the check and trust tables there are the
// ones in checks.go and trust.go.
package posture
