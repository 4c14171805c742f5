// Package config reads Portier's settings from the YAML config file, the
// PORTIER_* environment and command-line flags (flag beats env beats file),
// fills the defaults of the embedded no-config run, and validates the
// result. Every error in a file names file:line.
package config
