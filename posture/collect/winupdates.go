package collect

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Windows Update classification ids (locale-independent, unlike names).
const (
	wuSecurityUpdates = "0fa1201d-4330-4fa8-8ae9-b877473b6441"
)

// windowsUpdatesScript searches Windows Update (the WUA COM API) for
// pending software updates and prints them as JSON with classification
// ids, MSRC severity and release date.
const windowsUpdatesScript = "$r = (New-Object -ComObject Microsoft.Update.Session).CreateUpdateSearcher()." +
	"Search(\"IsInstalled=0 and Type='Software' and IsHidden=0\"); " +
	"$u = @($r.Updates | ForEach-Object { [pscustomobject]@{ Title = $_.Title; KB = @($_.KBArticleIDs); " +
	"MsrcSeverity = $_.MsrcSeverity; CategoryIDs = @($_.Categories | ForEach-Object { $_.CategoryID }); " +
	"Released = $_.LastDeploymentChangeTime.ToUniversalTime().ToString('o') } }); " +
	"ConvertTo-Json -Depth 4 -InputObject @{ Updates = $u }"

// ParseWindowsUpdates parses pending Windows updates in either shape:
//   - the collector's JSON ({"Updates":[{Title, KB, MsrcSeverity,
//     CategoryIDs, Released}]}): an update is a security update when it has
//     an MSRC severity or the Security Updates classification, and the
//     oldest release date of those gives OldestSecurity;
//   - a "KBnnnn: Title" list, one update a line (as the WUA search scripts
//     of wesng write it): it gives Pending only, Security is -1 because
//     titles are not a reliable classification.
func ParseWindowsUpdates(data []byte) (Updates, error) {
	text := strings.TrimSpace(normalizeText(data))
	if strings.HasPrefix(text, "{") {
		return parseWindowsUpdatesJSON([]byte(text))
	}
	u := Updates{Security: -1}
	for _, l := range strings.Split(text, "\n") {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		kb, title, ok := strings.Cut(l, ": ")
		if !ok || !isKB(kb) || strings.TrimSpace(title) == "" {
			return Updates{}, unrecognized("Windows Update list", l)
		}
		u.Pending++
	}
	if text == "" {
		return Updates{}, unrecognized("Windows Update list", "empty output")
	}
	return u, nil
}

func isKB(s string) bool {
	rest, ok := strings.CutPrefix(s, "KB")
	if !ok || rest == "" || len(rest) > 10 {
		return false
	}
	for _, r := range rest {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func parseWindowsUpdatesJSON(b []byte) (Updates, error) {
	var doc struct {
		Updates *[]struct {
			Title        string   `json:"Title"`
			MsrcSeverity *string  `json:"MsrcSeverity"`
			CategoryIDs  []string `json:"CategoryIDs"`
			Released     string   `json:"Released"`
		} `json:"Updates"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return Updates{}, fmt.Errorf("Windows Update JSON: %w: %v", ErrUnrecognized, err)
	}
	if doc.Updates == nil {
		return Updates{}, unrecognized("Windows Update JSON", "no Updates array")
	}
	u := Updates{}
	for _, up := range *doc.Updates {
		if strings.TrimSpace(up.Title) == "" {
			return Updates{}, unrecognized("Windows Update JSON", "update without a title")
		}
		u.Pending++
		security := up.MsrcSeverity != nil && *up.MsrcSeverity != ""
		for _, c := range up.CategoryIDs {
			if strings.EqualFold(c, wuSecurityUpdates) {
				security = true
			}
		}
		if !security {
			continue
		}
		u.Security++
		u.SecurityNames = append(u.SecurityNames, up.Title)
		if up.Released == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, up.Released)
		if err != nil {
			return Updates{}, unrecognized("Windows Update release date", up.Released)
		}
		if u.OldestSecurity.IsZero() || t.Before(u.OldestSecurity) {
			u.OldestSecurity = t.UTC()
		}
	}
	return u, nil
}
