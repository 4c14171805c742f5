package policy

// The zone database is embedded so that `tz:` works the same on minimal
// container images without /usr/share/zoneinfo.
import _ "time/tzdata"
