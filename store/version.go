package store

import (
	"encoding/json"
	"errors"
	"fmt"
)

// ErrConflict is returned when a compare-and-set write finds the record at
// another version than the one the writer read: someone (maybe another
// replica) changed it meanwhile.
var ErrConflict = errors.New("record was changed by someone else")

// refused reports whether err is a write condition that did not hold (an
// answer to the writer), as opposed to a backend failure.
func refused(err error) bool {
	return errors.Is(err, ErrExists) || errors.Is(err, ErrNotFound) || errors.Is(err, ErrConflict)
}

// StoredVersion is the version of a stored record value: its top-level
// "version" JSON field, 0 when value is nil (no record) or has none.
// Records that take compare-and-set writes carry that field.
func StoredVersion(value []byte) (uint64, error) {
	if value == nil {
		return 0, nil
	}
	var v struct {
		Version uint64 `json:"version"`
	}
	if err := json.Unmarshal(value, &v); err != nil {
		return 0, fmt.Errorf("store: read record version: %w", err)
	}
	return v.Version, nil
}

// CheckStoredVersion returns an error wrapping ErrConflict when m checks
// the version and value (the stored record, nil when absent) is at another
// one. Backends call it inside their commit transaction.
func CheckStoredVersion(m Mutation, value []byte) error {
	if !m.CheckVersion {
		return nil
	}
	have, err := StoredVersion(value)
	if err != nil {
		return err
	}
	if have != m.IfVersion {
		return fmt.Errorf("%s/%s is at version %d, not %d: %w", m.Kind, m.ID, have, m.IfVersion, ErrConflict)
	}
	return nil
}

// PutIf writes r only if the stored record of its kind and id is at
// version (0: there is none); otherwise the whole Write fails with
// ErrConflict. r carries its new version in its "version" field.
func PutIf(r Record, version uint64) Op {
	op := encodeOp(r, false)
	op.m.CheckVersion, op.m.IfVersion = true, version
	return op
}

// DeleteIf removes the record of kind k and id only if it is at version;
// otherwise the whole Write fails with ErrConflict.
func DeleteIf(k Kind, id string, version uint64) Op {
	op := Delete(k, id)
	op.m.CheckVersion, op.m.IfVersion = true, version
	return op
}
