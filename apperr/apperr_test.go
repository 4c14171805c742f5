package apperr

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
)

func TestStatusAndBody(t *testing.T) {
	secret := errors.New("pq: password authentication failed for user admin")
	tests := []struct {
		err    error
		status int
		code   Code
		msg    string
	}{
		{Field("ttl", "ttl must be a duration"), http.StatusBadRequest, Invalid, "ttl must be a duration"},
		{fmt.Errorf("wrapped: %w", New(NotFound, "no such device")), http.StatusNotFound, NotFound, "no such device"},
		{Wrap(Unavailable, secret, "the store is unreachable"), http.StatusServiceUnavailable, Unavailable, "the store is unreachable"},
		{secret, http.StatusInternalServerError, Internal, "internal error; the details are in the server log"},
	}
	for _, tc := range tests {
		if got := Status(tc.err); got != tc.status {
			t.Errorf("Status(%v) = %d, want %d", tc.err, got, tc.status)
		}
		b := ToBody(tc.err)
		if b.Error.Code != tc.code || b.Error.Message != tc.msg {
			t.Errorf("ToBody(%v) = %+v", tc.err, b)
		}
	}
	if b := ToBody(Field("ttl", "bad")); b.Error.Field != "ttl" {
		t.Errorf("field not reported: %+v", b)
	}
}
