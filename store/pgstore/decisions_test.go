package pgstore

import (
	"testing"

	"github.com/portier/portier/store/pgstore/pgtest"
	"github.com/portier/portier/store/storetest"
)

func TestDecisionsConformance(t *testing.T) {
	pgtest.URL(t)
	storetest.RunDecisions(t, dbOpener)
}
