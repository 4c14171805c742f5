package policy

import "github.com/portier/portier/confyaml"

// Error is one problem found in a policy file, located by file, line and
// column (1-based; zero when unknown). It prints as file:line:col: msg.
type Error = confyaml.Error

// ErrorList is every problem found in one parse, in file order, so that lint
// can report them all at once. errors.As finds each *Error through it.
type ErrorList = confyaml.ErrorList
