package collect

import (
	"fmt"
	"sort"
	"strings"
)

// maxApps bounds an application inventory.
const maxApps = 50000

// dpkgFormat is the dpkg-query -f format the Linux inventory uses; dpkg
// expands \t and \n itself.
const dpkgFormat = `${db:Status-Abbrev}\t${binary:Package}\t${Version}\n`

// rpmFormat is the rpm --qf format the Linux inventory uses.
const rpmFormat = `%{NAME}\t%{VERSION}-%{RELEASE}\t%{VENDOR}\n`

// ParseDpkgQuery parses `dpkg-query -W -f='${db:Status-Abbrev}\t${binary:Package}\t${Version}\n'`,
// keeping installed packages only (status "ii", "hi"…). Two-column output
// (`-f='${Package}\t${Version}\n'`) is accepted as all installed.
func ParseDpkgQuery(data []byte) ([]App, error) {
	var apps []App
	for _, l := range textLines(data) {
		if strings.TrimSpace(l) == "" {
			continue
		}
		f := strings.Split(l, "\t")
		switch len(f) {
		case 2:
			f = append([]string{"ii "}, f...)
		case 3:
		default:
			return nil, unrecognized("dpkg-query", l)
		}
		if len(f[0]) < 2 || strings.IndexByte("uihrp", f[0][0]) < 0 {
			return nil, unrecognized("dpkg-query status", l)
		}
		if f[0][1] != 'i' {
			continue // removed, config-files only, half-installed…
		}
		app, err := newApp(f[1], f[2], "")
		if err != nil {
			return nil, err
		}
		apps = append(apps, app)
	}
	return finishApps(apps)
}

// ParseRpmQA parses `rpm -qa --qf '%{NAME}\t%{VERSION}-%{RELEASE}\t%{VENDOR}\n'`
// (the vendor column is optional). gpg-pubkey pseudo-packages are skipped.
func ParseRpmQA(data []byte) ([]App, error) {
	var apps []App
	for _, l := range textLines(data) {
		if strings.TrimSpace(l) == "" {
			continue
		}
		f := strings.Split(l, "\t")
		if len(f) != 2 && len(f) != 3 {
			return nil, unrecognized("rpm -qa", l)
		}
		if f[0] == "gpg-pubkey" {
			continue
		}
		vendor := ""
		if len(f) == 3 && f[2] != "(none)" {
			vendor = f[2]
		}
		app, err := newApp(f[0], f[1], vendor)
		if err != nil {
			return nil, err
		}
		apps = append(apps, app)
	}
	return finishApps(apps)
}

// newApp validates one inventory entry: a package-like name and printable
// version and publisher.
func newApp(name, version, publisher string) (App, error) {
	name = strings.TrimSpace(name)
	if !isPackageName(name) {
		return App{}, unrecognized("package name", name)
	}
	return appEntry(name, version, publisher)
}

// appEntry validates a free-form application entry (macOS, Windows names
// contain spaces and punctuation).
func appEntry(name, version, publisher string) (App, error) {
	n, err := cleanValue("application name", name)
	if err != nil {
		return App{}, err
	}
	a := App{Name: n}
	if strings.TrimSpace(version) != "" {
		if a.Version, err = cleanValue("application version", version); err != nil {
			return App{}, err
		}
	}
	if strings.TrimSpace(publisher) != "" {
		if a.Publisher, err = cleanValue("application publisher", publisher); err != nil {
			return App{}, err
		}
	}
	return a, nil
}

// finishApps sorts an inventory and enforces its size bound. An empty
// inventory is an error: every system has some packages.
func finishApps(apps []App) ([]App, error) {
	if len(apps) == 0 {
		return nil, fmt.Errorf("inventory: %w: no applications listed", ErrUnrecognized)
	}
	if len(apps) > maxApps {
		return nil, fmt.Errorf("inventory: more than %d applications", maxApps)
	}
	sort.Slice(apps, func(i, j int) bool {
		if apps[i].Name != apps[j].Name {
			return apps[i].Name < apps[j].Name
		}
		return apps[i].Version < apps[j].Version
	})
	return apps, nil
}
