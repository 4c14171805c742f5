package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/portier/portier/store"
)

// query runs sql on the cluster's database and hands each row to scan.
func (pc *procCluster) query(sql string, scan func(pgx.Rows) error) {
	t := pc.t
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pc.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, sql)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			t.Fatal(err)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}

// actions are the action records in the database, by id.
func (pc *procCluster) actions() map[string]*store.Action {
	out := map[string]*store.Action{}
	pc.query(`SELECT value FROM portier_records WHERE kind = 'action' AND NOT deleted`, func(r pgx.Rows) error {
		var b []byte
		if err := r.Scan(&b); err != nil {
			return err
		}
		a := &store.Action{}
		if err := json.Unmarshal(b, a); err != nil {
			return err
		}
		out[a.ID] = a
		return nil
	})
	return out
}

// actionAudits are the audit log's device.action.* entries: for each
// action id, the audit actions naming it.
func (pc *procCluster) actionAudits() map[string][]string {
	out := map[string][]string{}
	pc.query(`SELECT entry FROM portier_audit WHERE action LIKE 'device.action.%'`, func(r pgx.Rows) error {
		var b []byte
		if err := r.Scan(&b); err != nil {
			return err
		}
		var ev store.AuditEvent
		if err := json.Unmarshal(b, &ev); err != nil {
			return err
		}
		out[ev.Detail["action"]] = append(out[ev.Detail["action"]], ev.Action)
		return nil
	})
	return out
}

// answered is the action id a request got with a 2xx ("" for none).
func (kr *killRequest) answered() string {
	for id := range kr.ids {
		return id
	}
	return ""
}

// allClosed reports whether every answered request's action is closed,
// or its device wiped (a wiped agent may not get to report).
func (rq *requester) allClosed(acts map[string]*store.Action, devs []*killDevice) bool {
	rq.mu.Lock()
	defer rq.mu.Unlock()
	wiped := map[string]bool{}
	for _, d := range devs {
		wiped[d.id] = d.wiped.Load()
	}
	for _, kr := range rq.byKey {
		a, ok := acts[kr.answered()]
		if kr.answered() != "" && (!ok || open(a.Status)) && !wiped[kr.device] {
			return false
		}
	}
	return true
}

func open(status string) bool { return status == store.ActionQueued || status == store.ActionDelivered }

// check asserts what the run must guarantee, and logs what it went through.
func (rq *requester) check(t *testing.T, acts map[string]*store.Action, audits map[string][]string, devs []*killDevice) {
	t.Helper()
	rq.mu.Lock()
	defer rq.mu.Unlock()
	byKey := map[string][]*store.Action{}
	for _, a := range acts {
		if a.IdempotencyKey != "" {
			byKey[a.IdempotencyKey] = append(byKey[a.IdempotencyKey], a)
		}
	}
	dev := map[string]*killDevice{}
	for _, d := range devs {
		dev[d.id] = d
	}
	var created, replayed, netErrs, n503, retried int
	var keys []string
	for k := range rq.byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		kr := rq.byKey[k]
		netErrs += kr.netErrs
		n503 += kr.n503
		if kr.attempts > 0 {
			retried++
		}
		for _, b := range kr.bad {
			t.Errorf("request %s (%s on %s) answered %s; want only 2xx, or 503 or a network error while a replica is down", k, kr.typ, kr.device, b)
		}
		recs := byKey[kr.device+"/"+k]
		if len(recs) > 1 {
			t.Errorf("request %s made %d actions: %v", k, len(recs), recs)
		}
		id := kr.answered()
		if id == "" {
			if len(kr.bad) == 0 {
				t.Errorf("request %s got no answer in 20 s (%d attempts, last %d)", k, kr.attempts+1, kr.final)
			}
			continue
		}
		if kr.final == http.StatusCreated {
			created++
		} else {
			replayed++
		}
		if len(recs) != 1 || recs[0].ID != id {
			t.Errorf("request %s answered action %s; actions stored with its key: %v", k, id, recs)
			continue
		}
		if want := "device.action." + kr.typ; len(audits[id]) != 1 || audits[id][0] != want {
			t.Errorf("action %s (request %s) has audit entries %v, want exactly one %s", id, k, audits[id], want)
		}
		d := dev[kr.device]
		a := acts[id]
		switch ran := d.run.runs(id); {
		case ran > 1:
			t.Errorf("action %s (%s) ran %d times on device %s", id, kr.typ, ran, kr.device)
		case a.Status == store.ActionAcknowledged && ran != 1:
			t.Errorf("action %s (%s) is acknowledged but ran %d times on device %s", id, kr.typ, ran, kr.device)
		case kr.typ == "lock" && a.Status != store.ActionAcknowledged:
			t.Errorf("lock %s is %s after the drain: %q", id, a.Status, a.Result)
		case kr.typ == "wipe" && ran != 1:
			t.Errorf("wipe %s was never run on device %s (status %s)", id, kr.device, a.Status)
		}
	}
	var again, runs int
	for _, d := range devs {
		for id, n := range d.run.ran {
			runs += n
			if n > 1 || id == "" {
				t.Errorf("device %s ran action %q %d times", d.id, id, n)
			}
		}
		for _, n := range d.run.handed {
			if n > 1 {
				again++
			}
		}
	}
	var wiped []string
	unheard := 0 // wipes run whose result the server never got
	for _, d := range devs {
		if d.wiped.Load() {
			wiped = append(wiped, d.id)
		}
	}
	for _, kr := range rq.byKey {
		if a, ok := acts[kr.answered()]; ok && kr.typ == "wipe" && open(a.Status) {
			unheard++
		}
	}
	t.Logf("%d requests: %d created (201), %d answered from an earlier attempt (200), %d retried; %d network errors, %d answers 503",
		len(keys), created, replayed, retried, netErrs, n503)
	t.Logf("devices ran %d commands; %d actions handed to an agent more than once (the journal kept them from running again); %d of %d wipe devices wiped, %d of them unknown to the server",
		runs, again, len(wiped), killWipeDevs, unheard)
}
