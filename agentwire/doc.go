// Package agentwire is the agent API's wire protocol: the request and
// response bodies that `portier agent` and the Portier server exchange under
// /api/v1/agent, the protocol version both sides announce, and the few
// validation helpers both sides need.
//
// It is shared by the server (packages console and enrollment) and the agent
// (package agent), and imports nothing of the server: only the standard
// library and the posture collectors' signal type (package posture/collect,
// itself free of server code). The agent therefore never links the server's
// store, enrollment or posture code. The JSON field names are a contract
// with agents already installed: extend them, never rename them.
package agentwire
