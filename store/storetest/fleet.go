package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/portier/portier/store"
)

// PutFleet writes a varied fleet of n devices as of now, for the KPI and
// dashboard benchmarks: Laptop(i) on four platforms, in twenty departments
// and five groups, of three ownerships and every trust level, a fifth not
// compliant, provisioned in the last ten days, each with a posture (disk
// encryption, days behind on security updates); 5,000 per write.
func PutFleet(ctx context.Context, st *store.Store, n int, now time.Time) error {
	platforms := []string{"macos", "windows", "linux", "ios"}
	owns := []store.Ownership{store.OwnershipCorporate, store.OwnershipCOPE, store.OwnershipBYOD}
	for start := 0; start < n; start += 5000 {
		var ops []store.Op
		for i := start; i < min(start+5000, n); i++ {
			d := Laptop(i, now.Add(-time.Duration(i%600)*time.Minute))
			d.Platform, d.Ownership, d.Department = platforms[i%4], owns[i%3], fmt.Sprintf("dept-%02d", i%20)
			d.Groups, d.Trust, d.Compliant, d.OSVersion = []string{fmt.Sprintf("team-%d", i%5)}, store.Trust(i%4), i%5 != 0, fmt.Sprintf("14.%d", i%7)
			d.ProvisionStart, d.ProvisionedAt = now.Add(-10*24*time.Hour), now.Add(-10*24*time.Hour+time.Duration(i%48)*time.Hour)
			sig, err := json.Marshal([]map[string]any{
				{"name": "disk.encrypted", "value": i%10 != 0, "source": "bench", "collected_at": now},
				{"name": "updates.security_oldest_days", "value": i % 40, "source": "bench", "collected_at": now},
			})
			if err != nil {
				return err
			}
			ops = append(ops, store.Put(d), store.Put(&store.Posture{ID: d.ID, ReportedAt: now, ReportSeq: 1, Signals: sig}))
		}
		if err := st.Write(ctx, ops...); err != nil {
			return fmt.Errorf("writing devices: %w", err)
		}
	}
	return nil
}
