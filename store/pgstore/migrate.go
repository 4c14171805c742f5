package pgstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// migrationFS holds the schema migrations, NNNN_name.sql, applied in order.
// A migration's SQL is never edited once released: add a new one.
//
// Rolling upgrades (docs/operations.md) run the previous release beside the
// new one on the new schema, so every migration says whether that works:
//
//   - expand-only, marked by a line "-- portier:expand": it only adds what
//     older code ignores (a table, a nullable or defaulted column, an
//     index, a function); a Portier that knows fewer migrations keeps
//     running on the schema it produces;
//   - contracting (no marker, the default): it removes, renames or changes
//     the meaning of what older code uses; from it on, a Portier that does
//     not know it refuses to start (see compatible).
//
// Each applied migration records in portier_schema_migrations.min_compatible
// the oldest schema version a Portier must know to run on the schema it
// produced: the previous migration's for an expand-only one, its own for a
// contracting one. A Portier older than the schema reads it there, since it
// does not have the newer migrations' files.
//
//go:embed migrations/*.sql
var migrationFS embed.FS

type migration struct {
	version int
	name    string
	sql     string
	expand  bool // marked "-- portier:expand": older code keeps working
}

// expandMarker marks an expand-only migration (see migrationFS).
var expandMarker = regexp.MustCompile(`(?m)^-- portier:expand[ \t]*$`)

// migrations reads the embedded migrations and checks they are numbered
// 1, 2, 3… without gaps.
func migrations() ([]migration, error) {
	files, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, f := range files {
		name := path.Base(f)
		num, _, _ := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if err != nil {
			return nil, fmt.Errorf("pgstore: migration %s is not named NNNN_name.sql", name)
		}
		b, err := migrationFS.ReadFile(f)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: strings.TrimSuffix(name, ".sql"), sql: string(b),
			expand: expandMarker.Match(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i, m := range out {
		if m.version != i+1 {
			return nil, fmt.Errorf("pgstore: migration %s: want version %d", m.name, i+1)
		}
	}
	return out, nil
}

// SchemaVersion is the schema version this Portier brings: the number of
// its migrations.
func SchemaVersion() int {
	all, err := migrations()
	if err != nil {
		return 0
	}
	return len(all)
}

// known is the migrations this Portier knows: all of them, or the first
// n when n > 0 (Options.KnownSchema, to test the rolling-upgrade window).
func known(n int) ([]migration, error) {
	all, err := migrations()
	if err != nil {
		return nil, err
	}
	if n > 0 && n < len(all) {
		all = all[:n]
	}
	return all, nil
}

// migrate brings the schema up to date with the migrations all (this
// Portier's). Several processes may start at once: a session advisory lock,
// keyed by the schema so that separate installations in one database do not
// wait for each other, lets exactly one of them apply each migration while
// the others wait and then find nothing to do. On a schema newer than all,
// it applies nothing and refuses unless the schema is compatible with this
// Portier (see migrationFS).
func (db *DB) migrate(ctx context.Context, all []migration) error {
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return db.connectError(err)
	}
	defer conn.Release()

	var schema *string
	if err := conn.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	if schema == nil {
		var sp string
		_ = conn.QueryRow(ctx, `SHOW search_path`).Scan(&sp)
		return fmt.Errorf("pgstore: PostgreSQL at %s: no schema to create Portier's tables in: search_path %q names no existing schema", db.where, sp)
	}
	const lockKey = `hashtextextended('portier_schema_migrations.' || current_schema(), 0)`
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(`+lockKey+`)`); err != nil {
		return fmt.Errorf("pgstore: migrate: take advisory lock: %w", err)
	}
	defer func() {
		// On a broken connection the server drops the session lock itself.
		_, _ = conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(`+lockKey+`)`)
	}()

	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS portier_schema_migrations (
		version    integer     PRIMARY KEY,
		name       text        NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now()
	);
	ALTER TABLE portier_schema_migrations ADD COLUMN IF NOT EXISTS min_compatible integer`); err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	// Rows written before min_compatible existed read as contracting.
	var current, minCompat int
	err = conn.QueryRow(ctx, `SELECT version, coalesce(min_compatible, version) FROM portier_schema_migrations
		ORDER BY version DESC LIMIT 1`).Scan(&current, &minCompat)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	if current > len(all) {
		if err := compatible(current, minCompat, len(all)); err != nil {
			return fmt.Errorf("pgstore: the database at %s (schema %s): %w", db.where, *schema, err)
		}
		db.log.Warn("pgstore: the schema is newer than this Portier but compatible with it: running beside a newer release (rolling upgrade); upgrade this replica",
			"schema_version", current, "known_version", len(all), "min_compatible", minCompat, "schema", *schema)
		return nil
	}
	for _, m := range all[current:] {
		if !m.expand || minCompat == 0 {
			minCompat = m.version
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO portier_schema_migrations (version, name, min_compatible) VALUES ($1, $2, $3)`,
				m.version, m.name, minCompat)
			return err
		})
		if err != nil {
			return fmt.Errorf("pgstore: migration %s: %w", m.name, err)
		}
		db.log.Info("pgstore: applied schema migration", "version", m.version, "name", m.name, "expand_only", m.expand,
			"min_compatible", minCompat, "schema", *schema)
	}
	return nil
}

// compatible says whether a Portier that knows schema versions up to known
// may run on a schema at version current whose oldest compatible version is
// minCompat, with the reason and what to do when it may not.
func compatible(current, minCompat, known int) error {
	if current <= known || known >= minCompat {
		return nil
	}
	return fmt.Errorf("schema version %d was written by a newer Portier and is not compatible with this one, "+
		"which knows up to %d: a migration since changed what this version relies on, so only a Portier that knows schema version %d or later can use it. "+
		"Run the newer release on this replica too (the database cannot be rolled back by starting an older Portier; restore a backup taken before the upgrade for that)",
		current, known, minCompat)
}
