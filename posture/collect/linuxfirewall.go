package collect

import (
	"encoding/json"
	"fmt"
	"strings"
)

// ParseUfwStatus parses `ufw status [verbose]` (LC_ALL=C): "Status: active"
// is true, "Status: inactive" false; anything else (including "ERROR: You
// need to be root") is an error.
func ParseUfwStatus(data []byte) (bool, error) {
	head := firstLine(string(data))
	switch head {
	case "Status: active":
		return true, nil
	case "Status: inactive":
		return false, nil
	}
	return false, unrecognized("ufw status", head)
}

// ParseFirewalldState parses `firewall-cmd --state`: "running" or
// "not running" (the latter comes with exit status 252).
func ParseFirewalldState(data []byte) (bool, error) {
	lines := textLines(data)
	if len(lines) == 1 {
		switch strings.TrimSpace(lines[0]) {
		case "running":
			return true, nil
		case "not running":
			return false, nil
		}
	}
	return false, unrecognized("firewall-cmd --state", string(data))
}

// NftSummary is what an nftables ruleset says about inbound filtering.
type NftSummary struct {
	// InputChains counts base chains on the input (or netdev ingress) hook.
	InputChains int
	// Filtering is true when such a chain has policy drop or ends in an
	// unconditional drop/reject rule: inbound traffic is denied by default.
	Filtering bool
}

// ParseNftRuleset parses `nft -j list ruleset` (JSON schema version 1).
func ParseNftRuleset(data []byte) (NftSummary, error) {
	var doc struct {
		Nftables *[]map[string]json.RawMessage `json:"nftables"`
	}
	if err := json.Unmarshal([]byte(normalizeText(data)), &doc); err != nil {
		return NftSummary{}, fmt.Errorf("nft -j: %w: %v", ErrUnrecognized, err)
	}
	if doc.Nftables == nil {
		return NftSummary{}, unrecognized("nft -j", "no nftables array")
	}
	type chainKey struct{ family, table, name string }
	input := map[chainKey]bool{}
	var sum NftSummary
	var rules []nftRule
	for _, obj := range *doc.Nftables {
		if raw, ok := obj["chain"]; ok {
			var c struct {
				Family, Table, Name, Hook, Policy string
			}
			if err := json.Unmarshal(raw, &c); err != nil {
				return NftSummary{}, fmt.Errorf("nft -j chain: %w: %v", ErrUnrecognized, err)
			}
			if c.Hook == "input" || (c.Family == "netdev" && c.Hook == "ingress") {
				input[chainKey{c.Family, c.Table, c.Name}] = true
				sum.InputChains++
				if c.Policy == "drop" {
					sum.Filtering = true
				}
			}
		}
		if raw, ok := obj["rule"]; ok {
			var r nftRule
			if err := json.Unmarshal(raw, &r); err != nil {
				return NftSummary{}, fmt.Errorf("nft -j rule: %w: %v", ErrUnrecognized, err)
			}
			rules = append(rules, r)
		}
	}
	for _, r := range rules {
		if input[chainKey{r.Family, r.Table, r.Chain}] && r.unconditionalDeny() {
			sum.Filtering = true
		}
	}
	return sum, nil
}

type nftRule struct {
	Family, Table, Chain string
	Expr                 []map[string]json.RawMessage
}

// unconditionalDeny reports a rule that drops or rejects without matching.
func (r nftRule) unconditionalDeny() bool {
	deny := false
	for _, e := range r.Expr {
		for k := range e {
			switch k {
			case "match", "limit", "quota":
				return false
			case "drop", "reject":
				deny = true
			}
		}
	}
	return deny
}
