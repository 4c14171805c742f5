package boltstore_test

import (
	"testing"

	"github.com/portier/portier/store/storetest"
)

func TestDecisionsConformance(t *testing.T) {
	storetest.RunDecisions(t, fileOpener)
}
