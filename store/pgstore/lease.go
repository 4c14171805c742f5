package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/portier/portier/store"
)

var _ store.Leases = (*DB)(nil)

// sqlAcquire takes a free or expired lease, or extends the holder's own, in
// one statement; it returns a row only when holder holds the lease after
// it. Expiry is on the database's clock.
const sqlAcquire = `INSERT INTO portier_leases AS l (name, holder, expires_at)
	VALUES ($1, $2, now() + $3 * interval '1 millisecond')
	ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
	WHERE l.holder = excluded.holder OR l.expires_at < now()
	RETURNING holder`

// Acquire implements store.Leases.
func (db *DB) Acquire(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	rows, err := db.pool.Query(ctx, sqlAcquire, name, holder, ttl.Milliseconds())
	if err != nil {
		return false, fmt.Errorf("pgstore: acquire lease %q: %w", name, err)
	}
	held := rows.Next()
	rows.Close()
	if err := rows.Err(); err != nil {
		return false, fmt.Errorf("pgstore: acquire lease %q: %w", name, err)
	}
	return held, nil
}

// Release implements store.Leases.
func (db *DB) Release(ctx context.Context, name, holder string) error {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	if _, err := db.pool.Exec(ctx, `DELETE FROM portier_leases WHERE name = $1 AND holder = $2`, name, holder); err != nil {
		return fmt.Errorf("pgstore: release lease %q: %w", name, err)
	}
	return nil
}

var _ store.LeaseLister = (*DB)(nil)

// Holders implements store.LeaseLister: the leases not expired (on the
// database's clock), by name.
func (db *DB) Holders(ctx context.Context) ([]store.LeaseHolder, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	rows, err := db.pool.Query(ctx, `SELECT name, holder FROM portier_leases WHERE expires_at >= now() ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("pgstore: list leases: %w", err)
	}
	defer rows.Close()
	var out []store.LeaseHolder
	for rows.Next() {
		var h store.LeaseHolder
		if err := rows.Scan(&h.Name, &h.Holder); err != nil {
			return nil, fmt.Errorf("pgstore: list leases: %w", err)
		}
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pgstore: list leases: %w", err)
	}
	return out, nil
}
