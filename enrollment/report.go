package enrollment

import (
	"github.com/portier/portier/agentwire"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/posture"
)

// MaxReportBytes bounds a posture report body on the agent API; larger is
// 413 (the protocol's agentwire.MaxPostureReportBytes).
const MaxReportBytes = agentwire.MaxPostureReportBytes

// ParseReport reads a posture report body: {"seq", "collected_at",
// "time_zone", "signals": [...]}, with posture's decoder, so signal names
// and value types follow posture's catalog: a signal name this server does
// not know (a newer agent) is dropped, a malformed value is a client error
// naming the field (e.g. "signals[3].value").
func ParseReport(body []byte) (agentwire.PostureReport, error) {
	if len(body) > MaxReportBytes {
		return agentwire.PostureReport{}, apperr.New(apperr.TooLarge, "the posture report is larger than %d bytes", MaxReportBytes)
	}
	pr, err := posture.ParseReport(body)
	if err != nil {
		return agentwire.PostureReport{}, err
	}
	r := agentwire.PostureReport(pr)
	if r.Seq == 0 {
		return r, apperr.Field("seq", "seq must be a whole number from 1 up")
	}
	if r.CollectedAt.IsZero() {
		return r, apperr.Field("collected_at", "collected_at is required: when the agent collected the report (RFC 3339)")
	}
	return r, nil
}
