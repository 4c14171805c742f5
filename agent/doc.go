// Package agent is the Portier device agent behind `portier agent`: it
// enrolls the machine (a fresh ECDSA P-256 key, a CSR, an enrollment code,
// the Portier root pinned by fingerprint), then talks to the server only
// over mutual TLS with its device certificate, trusting the pinned root
// alone. Each cycle it fetches its data profile, collects only the signals
// the profile allows (package posture/collect), sends them with a
// sequence number that never goes back, renews its certificate at two
// thirds of its lifetime, and long-polls for remote actions.
//
// Every request and answer is a type of package agentwire, the protocol the
// agent shares with the server, and carries its version; the agent imports
// no server package.
//
// Actions run at most once per action id: the id is written to a journal
// and synced before the action starts, so a re-delivered action is never
// run twice, only reported again. Commands (lock, notifications, the
// operator's wipe command) go through an injected Runner, so tests never
// touch the machine they run on.
//
// In work-profile mode (BYOD) everything the agent keeps — key,
// certificate, state, journal — lives in one work-profile directory, and a
// selective wipe deletes exactly that directory.
package agent
