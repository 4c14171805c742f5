package enrollment

import (
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/posture"
)

// MaxReportBytes bounds a posture report body on the agent API; larger is
// 413. A corporate Linux desktop with its package inventory sends about
// 50 KiB.
const MaxReportBytes = 256 << 10

// ParseReport reads a posture report body: {"seq", "collected_at",
// "time_zone", "signals": [...]}, with posture's decoder, so signal names
// and value types follow posture's catalog: a signal name this server does
// not know (a newer agent) is dropped, a malformed value is a client error
// naming the field (e.g. "signals[3].value").
func ParseReport(body []byte) (posture.Report, error) {
	if len(body) > MaxReportBytes {
		return posture.Report{}, apperr.New(apperr.TooLarge, "the posture report is larger than %d bytes", MaxReportBytes)
	}
	r, err := posture.ParseReport(body)
	if err != nil {
		return r, err
	}
	if r.Seq == 0 {
		return r, apperr.Field("seq", "seq must be a whole number from 1 up")
	}
	if r.CollectedAt.IsZero() {
		return r, apperr.Field("collected_at", "collected_at is required: when the agent collected the report (RFC 3339)")
	}
	return r, nil
}
