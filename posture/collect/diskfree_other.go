//go:build !linux && !darwin && !windows

package collect

import "fmt"

// diskFree is not implemented on this platform.
func diskFree(path string) (uint64, error) {
	return 0, fmt.Errorf("statfs %s: %w", path, ErrNotAvailable)
}
