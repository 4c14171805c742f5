package collect

import (
	"strings"
)

// windowsAppsScript reads the registry uninstall keys (64- and 32-bit
// views), skipping system components, as JSON.
const windowsAppsScript = "Get-ItemProperty -ErrorAction SilentlyContinue " +
	"'HKLM:\\Software\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\*'," +
	"'HKLM:\\Software\\WOW6432Node\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\*' | " +
	"Where-Object { $_.DisplayName -and -not $_.SystemComponent } | " +
	"Select-Object DisplayName,DisplayVersion,Publisher | ConvertTo-Json"

// ParseUninstallEntries parses registry uninstall entries (DisplayName,
// DisplayVersion, Publisher) as JSON or Format-List into an inventory.
// Entries without a name are skipped and duplicates (the same application in
// both registry views) are merged.
func ParseUninstallEntries(data []byte) ([]App, error) {
	recs, err := ParsePSObjects(data)
	if err != nil {
		return nil, err
	}
	seen := map[App]bool{}
	var apps []App
	for _, r := range recs {
		if strings.TrimSpace(r["DisplayName"]) == "" {
			continue
		}
		a, err := appEntry(r["DisplayName"], r["DisplayVersion"], r["Publisher"])
		if err != nil {
			return nil, err
		}
		if !seen[a] {
			seen[a] = true
			apps = append(apps, a)
		}
	}
	return finishApps(apps)
}
