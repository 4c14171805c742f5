package store

import (
	"errors"
	"fmt"

	"github.com/hashicorp/go-memdb"
)

// stringIndex indexes one string of a record, read by a typed accessor
// instead of memdb.StringFieldIndex's reflection (which looks the field up
// by name for every record indexed). Keys are the same: the string and a
// NUL terminator; an empty string is a missing value.
type stringIndex struct {
	// of returns the indexed string, false when obj is not a record of
	// the index's table.
	of func(obj any) (string, bool)
}

var _ memdb.PrefixIndexer = stringIndex{}

// field indexes the string of of for records of type T.
func field[T any](name string, unique bool, of func(*T) string) *memdb.IndexSchema {
	return &memdb.IndexSchema{
		Name:         name,
		Unique:       unique,
		AllowMissing: name != "id",
		Indexer: stringIndex{of: func(obj any) (string, bool) {
			r, ok := obj.(*T)
			if !ok {
				return "", false
			}
			return of(r), true
		}},
	}
}

// idIndex is every table's "id" index: the record's Key.
func idIndex() *memdb.IndexSchema {
	return &memdb.IndexSchema{
		Name:   "id",
		Unique: true,
		Indexer: stringIndex{of: func(obj any) (string, bool) {
			r, ok := obj.(Record)
			if !ok {
				return "", false
			}
			return r.Key(), true
		}},
	}
}

// FromObject returns the key of obj's string, nothing when it is empty.
func (x stringIndex) FromObject(obj any) (bool, []byte, error) {
	v, ok := x.of(obj)
	if !ok {
		return false, nil, fmt.Errorf("store: index: unexpected object %T", obj)
	}
	if v == "" {
		return false, nil, nil
	}
	return true, terminated(v), nil
}

// FromArgs returns the key of one string argument.
func (x stringIndex) FromArgs(args ...any) ([]byte, error) {
	if len(args) != 1 {
		return nil, errors.New("store: index: one argument expected")
	}
	s, ok := args[0].(string)
	if !ok {
		return nil, fmt.Errorf("store: index: argument must be a string, not %T", args[0])
	}
	return terminated(s), nil
}

// PrefixFromArgs returns the key prefix of one string argument: the
// string without its terminator.
func (x stringIndex) PrefixFromArgs(args ...any) ([]byte, error) {
	k, err := x.FromArgs(args...)
	if err != nil {
		return nil, err
	}
	return k[:len(k)-1], nil
}

// terminated is s with a NUL terminator, in one allocation.
func terminated(s string) []byte {
	b := make([]byte, len(s)+1)
	copy(b, s)
	return b
}
