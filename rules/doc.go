// Package rules keeps routes and access policies as versioned data in the
// store: it parses and validates one route or policy, compiles the current
// set into the config view the proxy loads, writes new versions with
// compare-and-set (history, diff and audit in the same transaction), seeds
// or overwrites the store from the config file, and applies scheduled
// policy promotions.
package rules
