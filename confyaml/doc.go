// Package confyaml holds what Portier's YAML configuration readers share:
// the located Error ("file:line:col: msg") and ErrorList every parse
// returns, a Walker that reads a yaml.v3 node tree within an alias budget
// and records every problem instead of stopping at the first, the readers
// of common scalar forms (strings, lists of strings, booleans, durations),
// and the weekly Window of weekdays and wall-clock hours that both access
// policies and privacy rules use.
//
// The policy and posture packages embed a Walker in their parsers; their
// Error and ErrorList are aliases of the types here.
package confyaml
