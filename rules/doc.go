// Package rules keeps routes, access policies and compliance policies as
// versioned data in the store: it parses and validates one rule, compiles
// the current set into the config view the proxy loads (and the
// compliance policies into the posture engine's configuration), writes new versions with
// compare-and-set (history, diff and audit in the same transaction), seeds
// or overwrites the store from the config file, and applies scheduled
// policy promotions.
package rules
