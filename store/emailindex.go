package store

import (
	"errors"

	"github.com/portier/portier/mailaddr"
)

// emailIndex indexes an e-mail field by mailaddr.Fold: ASCII letters
// lowercased, every other byte kept. Unlike memdb's Lowercase option (which
// is strings.ToLower) it never folds Unicode, so "\u212Aim@…" (KELVIN SIGN)
// and "kim@…" have different keys.
type emailIndex struct {
	of func(any) (string, bool)
}

// FromObject returns the folded address of a record, or nothing when it
// has none.
func (x emailIndex) FromObject(obj any) (bool, []byte, error) {
	v, ok := x.of(obj)
	if !ok || v == "" {
		return false, nil, nil
	}
	return true, []byte(mailaddr.Fold(v) + "\x00"), nil
}

// FromArgs returns the key of one address argument.
func (x emailIndex) FromArgs(args ...any) ([]byte, error) {
	if len(args) != 1 {
		return nil, errors.New("email index: one argument expected")
	}
	s, ok := args[0].(string)
	if !ok {
		return nil, errors.New("email index: argument must be a string")
	}
	return []byte(mailaddr.Fold(s) + "\x00"), nil
}
