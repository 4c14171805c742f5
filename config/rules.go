package config

import (
	"net/url"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// Who owns routes and policies (Config.ConfigPolicies).
const (
	// PoliciesInStore: the config file's routes and policies seed the store
	// on first start; afterwards the store is authoritative and a file whose
	// routes or policies differ is refused.
	PoliciesInStore = "store"
	// PoliciesInFile: the file is authoritative; start and reload write its
	// routes and policies into the store, and the API refuses writes.
	PoliciesInFile = "file"
)

// ValidID reports whether s is a usable route or policy id: letters,
// digits, '-', '_' and '.', at most 100 characters.
func ValidID(s string) bool {
	if s == "" || len(s) > 100 {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
		default:
			return false
		}
	}
	return true
}

// RouteID is the route's id: its own, or one derived from From
// ("https://wiki.example.com:8443/docs" gives "wiki.example.com-8443-docs").
func RouteID(r Route) string {
	if r.ID != "" {
		return r.ID
	}
	u, err := url.Parse(r.From)
	if err != nil {
		return ""
	}
	s := u.Hostname()
	if u.Port() != "" {
		s += "-" + u.Port()
	}
	if p := strings.Trim(u.Path, "/"); p != "" {
		s += "-" + p
	}
	var b strings.Builder
	for _, c := range strings.ToLower(s) {
		if ValidID(string(c)) {
			b.WriteRune(c)
		} else {
			b.WriteByte('-')
		}
	}
	return b.String()
}

// RouteKeys are the keys a route may have, as its yaml tags name them.
func RouteKeys() []string {
	t := reflect.TypeOf(Route{})
	out := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		out = append(out, name)
	}
	return out
}

// DecodeRoute reads one route mapping, with wrong types reported as
// errors naming name:line.
func DecodeRoute(name string, n *yaml.Node) (Route, error) {
	var r Route
	if err := n.Decode(&r); err != nil {
		return Route{}, yamlError(name, err)
	}
	return r, nil
}
