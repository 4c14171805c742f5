package console

import (
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/store"
	"github.com/portier/portier/store/storetest"
)

// TestClusterViewMarksMissingAndBehind: the view computes each replica's
// lag against the highest head any replica saw, and marks a replica whose
// last heartbeat is older than MissingAfter.
func TestClusterViewMarksMissingAndBehind(t *testing.T) {
	c := &Console{opts: Options{Store: storetest.OpenBolt(t), ReplicaID: "a", MissingAfter: 6 * time.Second}}
	v := c.clusterView([]store.Heartbeat{
		{ReplicaID: "a", AppliedSeq: 100, HeadSeq: 100, Age: time.Second},
		{ReplicaID: "b", AppliedSeq: 90, HeadSeq: 120, Age: 2 * time.Second},
		{ReplicaID: "c", AppliedSeq: 50, HeadSeq: 50, Age: 7 * time.Second},
	}, []store.LeaseHolder{{Name: "job.y", Holder: "b"}, {Name: "job.x", Holder: "b"}, {Name: "job.z", Holder: "gone"}})
	if v.HeadSequence != 120 {
		t.Errorf("head = %d, want 120", v.HeadSequence)
	}
	want := map[string]struct {
		behind        uint64
		missing, self bool
	}{"a": {20, false, true}, "b": {30, false, false}, "c": {70, true, false}}
	for _, r := range v.Replicas {
		w := want[r.ID]
		if r.Behind != w.behind || r.Missing != w.missing || r.Self != w.self {
			t.Errorf("replica %s: behind %d missing %v self %v; want %+v", r.ID, r.Behind, r.Missing, r.Self, w)
		}
		if leases := strings.Join(r.Leases, ","); r.ID == "b" && leases != "job.x,job.y" || r.ID != "b" && leases != "" || r.Leases == nil {
			t.Errorf("replica %s runs %v", r.ID, r.Leases)
		}
	}
}
