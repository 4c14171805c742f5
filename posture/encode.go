package posture

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/portier/portier/posture/collect"
)

// encodeSignals writes signals as the JSON of []collect.Signal without
// reflection: every report is encoded once on the hot path. The output
// decodes exactly like json.Marshal's (see the round-trip fuzz test).
func encodeSignals(sigs []collect.Signal) ([]byte, error) {
	b := make([]byte, 0, 160*len(sigs)+2)
	b = append(b, '[')
	for i, s := range sigs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = appendString(b, s.Name)
		if s.Value != nil {
			b = append(b, `,"value":`...)
			switch v := s.Value.(type) {
			case bool:
				b = strconv.AppendBool(b, v)
			case int64:
				b = strconv.AppendInt(b, v, 10)
			case string:
				b = appendString(b, v)
			default:
				raw, err := json.Marshal(v)
				if err != nil {
					return nil, err
				}
				b = append(b, raw...)
			}
		}
		b = append(b, `,"source":`...)
		b = appendString(b, s.Source)
		b = append(b, `,"collected_at":"`...)
		at := s.CollectedAt
		if y := at.Year(); y < 0 || y > 9999 {
			at = time.Time{} // not representable in RFC 3339
		}
		b = at.AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
		if s.Error != "" {
			b = append(b, `,"error":`...)
			b = appendString(b, s.Error)
		}
		b = append(b, '}')
	}
	return append(b, ']'), nil
}

// appendString appends s as a JSON string: plain printable ASCII directly,
// anything else through encoding/json.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			raw, _ := json.Marshal(s)
			return append(b, raw...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
