// Package enrollment is Portier's device registry: enrollment codes and
// bulk (zero-touch) tokens with their QR codes, the imported list of
// expected devices, enrollment itself (a CSR from the agent becomes a device
// certificate and a device record), certificate renewal, the device
// lifecycle (active → quarantined → retired or wiped), the remote actions
// queue with its at-least-once delivery to the agent, and the rollout KPIs.
//
// The package holds the logic; package console serves it over HTTP (the
// admin API and the agent API on the console host). It reads the store's
// in-memory model and writes each change with its history and audit events
// in one durable transaction. Posture ingestion, data profiles and privacy
// notices come from the posture engine through the small Posture interface,
// so enrollment does not depend on how compliance is computed.
package enrollment
