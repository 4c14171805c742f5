package server

import (
	"net/url"
	"strings"

	"github.com/portier/portier/config"
)

// demoURL is where the built-in demo app is served in the default run:
// demo.<external host> on the external port.
func demoURL(cfg *config.Config) string {
	u, _ := url.Parse(cfg.ExternalURL)
	u.Host = "demo." + u.Host
	return strings.TrimSuffix(u.String(), "/") + "/"
}

// routeHosts lists the hosts of configured routes (and the demo's).
func routeHosts(cfg *config.Config) []string {
	var hosts []string
	for _, r := range cfg.Routes {
		if u, err := url.Parse(r.From); err == nil {
			hosts = append(hosts, strings.ToLower(u.Hostname()))
		}
	}
	if cfg.DemoEnabled() {
		if u, err := url.Parse(demoURL(cfg)); err == nil {
			hosts = append(hosts, u.Hostname())
		}
	}
	return hosts
}
