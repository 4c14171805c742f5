package agentwire

// ALPN is the TLS application protocol the agent offers (after h2 and
// http/1.1, which are what it negotiates). It marks the agent's handshake,
// so that a server whose browser-facing certificate comes from a public
// ACME CA still answers the agent with the certificate of Portier's CA,
// the only root the agent trusts.
const ALPN = "portier-agent/1"

// OffersAgentALPN reports whether a TLS client's offered protocols mark it
// as the agent.
func OffersAgentALPN(protos []string) bool {
	for _, p := range protos {
		if p == ALPN {
			return true
		}
	}
	return false
}
