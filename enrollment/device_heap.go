package enrollment

import "sort"

// pageHeap keeps the first entries of a page while the inventory is
// scanned: its root is the entry listed last, the one to drop when a
// better one comes.
type pageHeap struct {
	entries []listEntry
	first   func(a, b listEntry) bool
}

func (h *pageHeap) Len() int           { return len(h.entries) }
func (h *pageHeap) Less(i, j int) bool { return h.first(h.entries[j], h.entries[i]) }
func (h *pageHeap) Swap(i, j int)      { h.entries[i], h.entries[j] = h.entries[j], h.entries[i] }
func (h *pageHeap) Push(x any)         { h.entries = append(h.entries, x.(listEntry)) }
func (h *pageHeap) Pop() any {
	e := h.entries[len(h.entries)-1]
	h.entries = h.entries[:len(h.entries)-1]
	return e
}

// sortEntries puts entries in list order.
func sortEntries(entries []listEntry, first func(a, b listEntry) bool) {
	sort.Slice(entries, func(i, j int) bool { return first(entries[i], entries[j]) })
}
