package collect

import (
	"encoding/json"
	"fmt"
)

// ParseSystemProfilerApps parses `system_profiler SPApplicationsDataType
// -json` into an inventory: name, version and the first "signed_by"
// authority (or "obtained_from") as publisher.
func ParseSystemProfilerApps(data []byte) ([]App, error) {
	var doc struct {
		Apps *[]struct {
			Name         string   `json:"_name"`
			Version      string   `json:"version"`
			ObtainedFrom string   `json:"obtained_from"`
			SignedBy     []string `json:"signed_by"`
		} `json:"SPApplicationsDataType"`
	}
	if err := json.Unmarshal([]byte(normalizeText(data)), &doc); err != nil {
		return nil, fmt.Errorf("system_profiler: %w: %v", ErrUnrecognized, err)
	}
	if doc.Apps == nil {
		return nil, unrecognized("system_profiler", "no SPApplicationsDataType")
	}
	var apps []App
	for _, a := range *doc.Apps {
		pub := a.ObtainedFrom
		if len(a.SignedBy) > 0 {
			pub = a.SignedBy[0]
		}
		app, err := appEntry(a.Name, a.Version, pub)
		if err != nil {
			return nil, err
		}
		apps = append(apps, app)
	}
	return finishApps(apps)
}
