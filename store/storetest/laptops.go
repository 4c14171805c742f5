package storetest

import (
	"context"
	"fmt"
	"time"

	"github.com/portier/portier/store"
)

// Laptop is device i of a benchmark fleet: a record sized like an enrolled
// corporate laptop's, trusted and compliant, last seen at seen.
func Laptop(i int, seen time.Time) *store.Device {
	return &store.Device{
		ID:            fmt.Sprintf("dev_%016x", i),
		Name:          fmt.Sprintf("LAPTOP-%06d", i),
		Serial:        fmt.Sprintf("C02X%08d", i),
		Platform:      "macos",
		Ownership:     store.OwnershipCorporate,
		OwnerEmail:    fmt.Sprintf("user%d@example.com", i),
		State:         store.DeviceActive,
		Trust:         store.TrustHigh, // corporate, hardware-bound key, compliant: high is earned
		KeyProtection: store.KeyHardware,
		Compliant:     true,
		PassingChecks: []string{"disk_encrypted", "firewall_on", "os_up_to_date", "screen_lock"},
		CertSerial:    fmt.Sprintf("%d", 1_000_000_000_000+i),
		EnrolledAt:    seen.Add(-90 * 24 * time.Hour),
		LastSeen:      seen,
	}
}

// PutLaptops writes Laptop(0) … Laptop(n-1) to st, 5,000 per write.
func PutLaptops(ctx context.Context, st *store.Store, n int, seen time.Time) error {
	const batch = 5000
	for start := 0; start < n; start += batch {
		ops := make([]store.Op, 0, batch)
		for i := start; i < min(start+batch, n); i++ {
			ops = append(ops, store.Put(Laptop(i, seen)))
		}
		if err := st.Write(ctx, ops...); err != nil {
			return fmt.Errorf("writing devices: %w", err)
		}
	}
	return nil
}
