package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portier/portier/store"
)

// Tamper edits a backend's stored audit log behind its back, as someone
// with write access to the file or the database would. Each function gets
// the backend the entries were written through.
type Tamper struct {
	// Edit replaces the stored entry at position seq with edit(entry).
	Edit func(t *testing.T, be store.Backend, seq uint64, edit func([]byte) []byte)
	// Delete removes the entry at position seq.
	Delete func(t *testing.T, be store.Backend, seq uint64)
	// Swap exchanges the stored entries at positions a and b.
	Swap func(t *testing.T, be store.Backend, a, b uint64)
}

// RunAudit runs the audit log's cases against a backend: the hash chain,
// queries and cursors, retention with its anchor, backups, and the
// detection of entries edited, removed or reordered through tamper.
func RunAudit(t *testing.T, newOpener func(t *testing.T) Opener, tamper Tamper) {
	tests := []struct {
		name string
		fn   func(*testing.T, Opener)
	}{
		{"AuditIsChainedNotLoaded", testAuditChain},
		{"AuditIsAtomicWithTheChange", testAuditAtomic},
		{"AuditIsAppendOnly", testAuditAppendOnly},
		{"AuditQueryFiltersAndPages", testAuditQuery},
		{"AuditConcurrentWritersOneChain", testAuditConcurrent},
		{"AuditPruneKeepsAnchor", testAuditPrune},
		{"AuditIndexedQueriesAgreeWithTheLog", testAuditIndexes},
		{"AuditSnapshotImportKeepsChain", func(t *testing.T, o Opener) { testAuditBackup(t, o, newOpener) }},
		{"AuditEditedEntryDetected", func(t *testing.T, o Opener) { testAuditTamper(t, o, tamper, "edit") }},
		{"AuditDeletedEntryDetected", func(t *testing.T, o Opener) { testAuditTamper(t, o, tamper, "delete") }},
		{"AuditDeletedLastEntryDetected", func(t *testing.T, o Opener) { testAuditTamper(t, o, tamper, "delete-last") }},
		{"AuditReorderedEntriesDetected", func(t *testing.T, o Opener) { testAuditTamper(t, o, tamper, "swap") }},
		{"AuditRenumberedEntryDetected", func(t *testing.T, o Opener) { testAuditTamper(t, o, tamper, "renumber") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newOpener(t)) })
	}
}

// auditBase is the time of the first test event.
var auditBase = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func auditMut(i int, actor, action, target string) store.Mutation {
	ev := store.NewAuditEvent(auditBase.Add(time.Duration(i)*time.Hour), actor, action, target)
	ev.RemoteIP = "192.0.2.7"
	ev.Detail = map[string]string{"n": fmt.Sprint(i), "z": "last", "a": "<first & \"quoted\">"}
	return mut(store.KindAudit, ev.ID, ev)
}

func auditLog(t *testing.T, be store.Backend) store.AuditLog {
	t.Helper()
	al, ok := be.(store.AuditLog)
	if !ok {
		t.Fatalf("%T does not implement store.AuditLog", be)
	}
	return al
}

// readAll pages through the whole log, oldest first, with small pages.
func readAll(t *testing.T, al store.AuditLog, q store.AuditQuery) []*store.AuditEvent {
	t.Helper()
	var out []*store.AuditEvent
	q.Limit = 2
	for range 10000 {
		page, err := al.QueryAudit(context.Background(), q)
		if err != nil {
			t.Fatalf("QueryAudit: %v", err)
		}
		out = append(out, page...)
		if len(page) < q.Limit {
			return out
		}
		q.After = page[len(page)-1].Pos
	}
	t.Fatal("QueryAudit does not end")
	return nil
}

// verify checks the whole stored chain as `portier audit verify` does.
func verify(t *testing.T, be store.Backend) *store.AuditBreak {
	t.Helper()
	al := auditLog(t, be)
	ch, err := al.AuditChain(context.Background())
	if err != nil {
		t.Fatalf("AuditChain: %v", err)
	}
	v := store.NewAuditVerifier(ch.Anchor)
	for _, ev := range readAll(t, al, store.AuditQuery{Ascending: true}) {
		if b := v.Add(ev); b != nil {
			return b
		}
	}
	return v.End(ch.Head)
}

func commitAudit(t *testing.T, be store.Backend, n int) {
	t.Helper()
	for i := range n {
		if _, err := be.Commit(context.Background(), []store.Mutation{auditMut(i, "user:ada@example.com", "device.view", fmt.Sprint("d", i))}); err != nil {
			t.Fatalf("Commit: %v", err)
		}
	}
}

func testAuditChain(t *testing.T, open Opener) {
	be := open(t)
	ctx := context.Background()
	_, err := be.Commit(ctx, []store.Mutation{
		mut(store.KindDevice, "d1", &store.Device{ID: "d1"}),
		auditMut(0, "token:t1", "device.create", "d1"),
		auditMut(1, "token:t1", "device.tag", "d1"),
	})
	if err != nil {
		t.Fatal(err)
	}
	commitAudit(t, be, 3)
	be.Close()
	be = open(t) // the chain survives a restart
	defer be.Close()
	if _, err := be.Commit(ctx, []store.Mutation{auditMut(9, "system", "audit.test", "")}); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, auditLog(t, be), store.AuditQuery{Ascending: true})
	if len(got) != 6 {
		t.Fatalf("%d events, want 6", len(got))
	}
	for i, ev := range got {
		if ev.Seq != uint64(i+1) || ev.Hash == "" || (i > 0 && ev.Prev != got[i-1].Hash) || (i == 0 && ev.Prev != "") {
			t.Fatalf("event %d = seq %d prev %q hash %q: not chained to %+v", i, ev.Seq, ev.Prev, ev.Hash, got[max(i-1, 0)])
		}
	}
	if got[1].Action != "device.tag" || got[1].Detail["a"] != "<first & \"quoted\">" || got[5].Action != "audit.test" {
		t.Errorf("events read back = %+v, %+v", got[1], got[5])
	}
	if b := verify(t, be); b != nil {
		t.Errorf("intact chain: %v", b)
	}
	ch, _ := auditLog(t, be).AuditChain(ctx)
	if ch.Head.Seq != 6 || ch.Head.Hash != got[5].Hash || ch.Anchor.Seq != 0 {
		t.Errorf("chain = %+v, want head at 6 and no anchor", ch)
	}
	// Never loaded into the read model.
	if _, err := be.Load(ctx, func(c store.Change) error {
		if c.Kind == store.KindAudit || c.Kind == store.KindAuditChain {
			return fmt.Errorf("Load returned %s/%s", c.Kind, c.ID)
		}
		return nil
	}); err != nil {
		t.Error(err)
	}
}

func testAuditAtomic(t *testing.T, open Opener) {
	be := open(t)
	defer be.Close()
	ctx := context.Background()
	inv := mut(store.KindInvite, "i1", &store.Invite{ID: "i1"})
	inv.Create = true
	if _, err := be.Commit(ctx, []store.Mutation{inv, auditMut(0, "system", "invite.create", "i1")}); err != nil {
		t.Fatal(err)
	}
	// The Create fails: neither the change nor its audit event lands.
	_, err := be.Commit(ctx, []store.Mutation{auditMut(1, "system", "invite.create", "i1"), inv})
	if !errors.Is(err, store.ErrExists) {
		t.Fatalf("second Create: %v, want ErrExists", err)
	}
	got := readAll(t, auditLog(t, be), store.AuditQuery{Ascending: true})
	if len(got) != 1 {
		t.Fatalf("%d events after a failed commit, want 1", len(got))
	}
	if _, err := be.Commit(ctx, []store.Mutation{auditMut(2, "system", "x", "")}); err != nil {
		t.Fatal(err)
	}
	if b := verify(t, be); b != nil {
		t.Errorf("after a failed commit the chain broke: %v", b)
	}
}

func testAuditAppendOnly(t *testing.T, open Opener) {
	be := open(t)
	defer be.Close()
	ctx := context.Background()
	m := auditMut(0, "system", "a", "")
	if _, err := be.Commit(ctx, []store.Mutation{m}); err != nil {
		t.Fatal(err)
	}
	if _, err := be.Commit(ctx, []store.Mutation{{Kind: store.KindAudit, ID: m.ID}}); err == nil {
		t.Error("deleting an audit event through Commit succeeded")
	}
	ch := mut(store.KindAuditChain, store.AuditChainID, &store.AuditChain{ID: store.AuditChainID})
	if _, err := be.Commit(ctx, []store.Mutation{ch}); err == nil {
		t.Error("rewriting the chain record through Commit succeeded")
	}
	if n := len(readAll(t, auditLog(t, be), store.AuditQuery{})); n != 1 {
		t.Errorf("%d events, want 1", n)
	}
}

func testAuditQuery(t *testing.T, open Opener) {
	be := open(t)
	defer be.Close()
	ctx := context.Background()
	var muts []store.Mutation
	for i := range 30 {
		actor := []string{"user:ada@example.com", "token:t1", "system"}[i%3]
		action := []string{"device.view", "device.wipe", "token.create", "device_x"}[i%4]
		muts = append(muts, auditMut(i, actor, action, fmt.Sprint("d", i%5)))
	}
	if _, err := be.Commit(ctx, muts[:17]); err != nil {
		t.Fatal(err)
	}
	if _, err := be.Commit(ctx, muts[17:]); err != nil {
		t.Fatal(err)
	}
	al := auditLog(t, be)
	cases := []struct {
		name string
		q    store.AuditQuery
		want int
	}{
		{"all", store.AuditQuery{}, 30},
		{"actor", store.AuditQuery{Actor: "token:t1"}, 10},
		{"action", store.AuditQuery{Action: "device.wipe"}, 8},
		{"action prefix", store.AuditQuery{Action: "device."}, 16},
		{"action prefix star", store.AuditQuery{Action: "device.*"}, 16},
		{"underscore is literal", store.AuditQuery{Action: "device_*"}, 7},
		{"target", store.AuditQuery{Target: "d3"}, 6},
		{"since", store.AuditQuery{Since: auditBase.Add(20 * time.Hour)}, 10},
		{"until", store.AuditQuery{Until: auditBase.Add(5 * time.Hour)}, 5},
		{"window and actor", store.AuditQuery{Since: auditBase.Add(3 * time.Hour), Until: auditBase.Add(9 * time.Hour), Actor: "system"}, 2},
		{"nothing", store.AuditQuery{Actor: "user:nobody@example.com"}, 0},
		{"nul byte", store.AuditQuery{Actor: "a\x00b"}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, asc := range []bool{false, true} {
				q := tc.q
				q.Ascending = asc
				got := readAll(t, al, q)
				if len(got) != tc.want {
					t.Errorf("ascending=%v: %d events, want %d", asc, len(got), tc.want)
				}
				seen := map[uint64]bool{}
				for i, ev := range got {
					if !tc.q.Match(ev) || seen[ev.Seq] {
						t.Errorf("event %+v does not match or repeats", ev)
					}
					seen[ev.Seq] = true
					if i > 0 && (got[i-1].Seq < ev.Seq) != asc {
						t.Errorf("ascending=%v: seq %d after %d", asc, ev.Seq, got[i-1].Seq)
					}
				}
			}
		})
	}
	// One page: the newest first, bounded by Limit; the cursor goes on.
	page, err := al.QueryAudit(ctx, store.AuditQuery{Limit: 4})
	if err != nil || len(page) != 4 || page[0].Seq != 30 || page[3].Seq != 27 {
		t.Fatalf("first page = %d events from %v, err %v; want 30..27", len(page), page, err)
	}
	page, err = al.QueryAudit(ctx, store.AuditQuery{Limit: 4, After: 27})
	if err != nil || len(page) != 4 || page[0].Seq != 26 {
		t.Fatalf("second page starts at %v, err %v; want 26", page, err)
	}
}

func testAuditConcurrent(t *testing.T, open Opener) {
	be := open(t)
	defer be.Close()
	st := openStore(t, be)
	defer st.Close()
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				ev := store.NewAuditEvent(auditBase, fmt.Sprint("g", g), "write", fmt.Sprint(i))
				errs <- st.Write(ctx, store.Put(&store.Blob{ID: fmt.Sprint(g, "-", i)}), store.Put(ev))
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := len(st.Audit()); n != 200 {
		t.Errorf("%d events, want 200", n)
	}
	if b := verify(t, be); b != nil {
		t.Errorf("concurrent writers broke the chain: %v", b)
	}
}

func testAuditPrune(t *testing.T, open Opener) {
	be := open(t)
	defer be.Close()
	ctx := context.Background()
	commitAudit(t, be, 10) // event i at auditBase + i hours
	al := auditLog(t, be)
	n, err := al.PruneAudit(ctx, auditBase.Add(5*time.Hour), 3)
	if err != nil || n != 3 {
		t.Fatalf("PruneAudit with limit 3 = %d, %v; want 3", n, err)
	}
	n, err = al.PruneAudit(ctx, auditBase.Add(5*time.Hour), 1000)
	if err != nil || n != 2 {
		t.Fatalf("PruneAudit = %d, %v; want the 2 left before the cut", n, err)
	}
	got := readAll(t, al, store.AuditQuery{Ascending: true})
	if len(got) != 5 || got[0].Seq != 6 {
		t.Fatalf("after pruning: %d events from seq %d, want 5 from 6", len(got), got[0].Seq)
	}
	ch, _ := al.AuditChain(ctx)
	if ch.Anchor.Seq != 5 || ch.Anchor.Hash != got[0].Prev {
		t.Errorf("anchor = %+v, want entry 5 (the prev of entry 6, %s)", ch.Anchor, got[0].Prev)
	}
	if b := verify(t, be); b != nil {
		t.Errorf("after pruning the chain does not verify from the anchor: %v", b)
	}
	commitAudit(t, be, 1)
	if n, _ := al.PruneAudit(ctx, auditBase.Add(-time.Hour), 1000); n != 0 {
		t.Errorf("pruned %d events newer than the cut", n)
	}
	if b := verify(t, be); b != nil {
		t.Errorf("after pruning and appending: %v", b)
	}
}

func testAuditBackup(t *testing.T, open Opener, fresh func(*testing.T) Opener) {
	be := open(t)
	defer be.Close()
	ctx := context.Background()
	commitAudit(t, be, 8)
	if _, err := auditLog(t, be).PruneAudit(ctx, auditBase.Add(2*time.Hour), 100); err != nil {
		t.Fatal(err)
	}
	if _, err := be.Commit(ctx, []store.Mutation{mut(store.KindUser, "u1", &store.User{ID: "u1"})}); err != nil {
		t.Fatal(err)
	}
	var snap []store.Change
	err := snapshotter(t, be).Snapshot(ctx, func(uint64) error { return nil }, func(c store.Change) error {
		c.Value = append([]byte(nil), c.Value...)
		snap = append(snap, c)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	nAudit, nChain := 0, 0
	for _, c := range snap {
		switch c.Kind {
		case store.KindAudit:
			nAudit++
		case store.KindAuditChain:
			nChain++
			if nAudit > 0 {
				t.Error("the chain record comes after audit events")
			}
		}
	}
	if nAudit != 6 || nChain != 1 {
		t.Fatalf("snapshot carries %d audit events and %d chain records, want 6 and 1", nAudit, nChain)
	}
	before, _ := auditLog(t, be).AuditChain(ctx)

	// Into an empty backend, with one unsealed event last, as a restore
	// appends its own.
	be2 := fresh(t)(t)
	defer be2.Close()
	restore := auditMut(99, "local:root", "backup.restore", "")
	in := append(snap, store.Change{Kind: store.KindAudit, ID: restore.ID, Value: restore.Value})
	if err := importer(t, be2).Import(ctx, 0, changes(in, nil)); err != nil {
		t.Fatalf("Import: %v", err)
	}
	after, _ := auditLog(t, be2).AuditChain(ctx)
	if after.Anchor != before.Anchor || after.Head.Seq != before.Head.Seq+1 {
		t.Errorf("chain after import = %+v, want anchor %+v and head %d", after, before.Anchor, before.Head.Seq+1)
	}
	got := readAll(t, auditLog(t, be2), store.AuditQuery{Ascending: true})
	if len(got) != 7 || got[6].Action != "backup.restore" || got[6].Prev != before.Head.Hash {
		t.Fatalf("imported log = %d events ending %+v", len(got), got[len(got)-1])
	}
	if b := verify(t, be2); b != nil {
		t.Errorf("imported chain: %v", b)
	}
	// A store holding only audit events is not empty.
	if err := importer(t, be2).Import(ctx, 0, changes(nil, nil)); !errors.Is(err, store.ErrNotEmpty) {
		t.Errorf("Import over an audit log: %v, want ErrNotEmpty", err)
	}

	// A backup from before the chain existed: plain events, in id order.
	be3 := fresh(t)(t)
	defer be3.Close()
	var legacy []store.Change
	for i := range 3 {
		m := auditMut(i, "system", "old", "")
		legacy = append(legacy, store.Change{Kind: m.Kind, ID: m.ID, Value: m.Value})
	}
	if err := importer(t, be3).Import(ctx, 0, changes(legacy, nil)); err != nil {
		t.Fatalf("Import of unchained events: %v", err)
	}
	if got := readAll(t, auditLog(t, be3), store.AuditQuery{Ascending: true}); len(got) != 3 || got[2].Seq != 3 {
		t.Errorf("unchained events imported as %d, want 3 chained", len(got))
	}
	if b := verify(t, be3); b != nil {
		t.Errorf("chained legacy events: %v", b)
	}
}

func testAuditTamper(t *testing.T, open Opener, tamper Tamper, how string) {
	be := open(t)
	defer be.Close()
	commitAudit(t, be, 6)
	if b := verify(t, be); b != nil {
		t.Fatalf("before tampering: %v", b)
	}
	var want uint64
	switch how {
	case "edit":
		tamper.Edit(t, be, 3, func(b []byte) []byte {
			return []byte(strings.Replace(string(b), `"device.view"`, `"device.list"`, 1))
		})
		want = 3
	case "delete":
		tamper.Delete(t, be, 4)
		want = 4
	case "delete-last":
		tamper.Delete(t, be, 6)
		want = 6
	case "swap":
		tamper.Swap(t, be, 2, 5)
		want = 2
	case "renumber":
		// An entry that claims an earlier position: readers page by where
		// entries are stored, so paging still ends (readAll fails if not).
		tamper.Edit(t, be, 4, func(b []byte) []byte {
			return []byte(strings.Replace(string(b), `"seq":4`, `"seq":2`, 1))
		})
		want = 4
	}
	b := verify(t, be)
	if b == nil {
		t.Fatalf("%s: the chain still verifies", how)
	}
	if b.Seq != want {
		t.Errorf("%s: first break at %d (%v), want %d", how, b.Seq, b, want)
	}
}
