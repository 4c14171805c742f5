package agent

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"sync"
	"time"
)

// Journal states of an action id.
const (
	journalStarted = "started"
	journalDone    = "done"
)

// journalKeep is how long journal entries are kept: longer than any
// action can stay deliverable on the server (90 days at most).
const journalKeep = 100 * 24 * time.Hour

// maxJournalBytes triggers a compaction of the journal.
const maxJournalBytes = 1 << 20

// journalEntry is one line of the action journal.
type journalEntry struct {
	ID     string    `json:"id"`
	State  string    `json:"state"`
	Status string    `json:"status,omitempty"`
	Result string    `json:"result,omitempty"`
	At     time.Time `json:"at"`
}

// journal is the append-only record of the actions this agent started and
// finished. An id is recorded (and synced) before its action runs, which
// is what makes every action run at most once.
type journal struct {
	mu      sync.Mutex
	path    string
	entries map[string]journalEntry
	size    int64
}

// openJournal reads the journal at path; a torn last line (a crash while
// appending) is ignored.
func openJournal(path string) (*journal, error) {
	j := &journal{path: path, entries: map[string]journalEntry{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return j, nil
	}
	if err != nil {
		return nil, err
	}
	j.size = int64(len(b))
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var e journalEntry
		if json.Unmarshal(sc.Bytes(), &e) == nil && e.ID != "" {
			j.entries[e.ID] = e
		}
	}
	return j, nil
}

// get returns the latest entry of an action id.
func (j *journal) get(id string) (journalEntry, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	e, ok := j.entries[id]
	return e, ok
}

// record appends e and syncs it to disk before returning.
func (j *journal) record(e journalEntry) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	line, err := json.Marshal(e)
	if err != nil {
		return err
	}
	line = append(line, '\n')
	f, err := os.OpenFile(j.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(line); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	j.entries[e.ID] = e
	j.size += int64(len(line))
	if j.size > maxJournalBytes {
		return j.compactLocked(e.At)
	}
	return nil
}

// compactLocked rewrites the journal without entries older than
// journalKeep.
func (j *journal) compactLocked(now time.Time) error {
	var buf bytes.Buffer
	for id, e := range j.entries {
		if now.Sub(e.At) > journalKeep {
			delete(j.entries, id)
			continue
		}
		line, _ := json.Marshal(e)
		buf.Write(append(line, '\n'))
	}
	j.size = int64(buf.Len())
	return writeFileAtomic(j.path, buf.Bytes(), 0o600)
}
