package enrollment

import (
	"fmt"
	"net/url"
	"strings"

	qrcode "github.com/skip2/go-qrcode"
)

// qrPNGSize is the side of the PNG QR code in pixels.
const qrPNGSize = 256

// EnrollURL is the enrollment page for a code: what the QR code encodes.
func (s *Service) EnrollURL(code string) string {
	return s.ext + "/enroll?" + url.Values{"code": {code}}.Encode()
}

// QR encodes text as a QR code, returned as a PNG image and as an inline
// SVG document (one path, no external references, safe to embed).
func QR(text string) (png []byte, svg string, err error) {
	q, err := qrcode.New(text, qrcode.Medium)
	if err != nil {
		return nil, "", fmt.Errorf("enrollment: QR code: %w", err)
	}
	png, err = q.PNG(qrPNGSize)
	if err != nil {
		return nil, "", fmt.Errorf("enrollment: QR code: %w", err)
	}
	return png, qrSVG(q.Bitmap()), nil
}

// qrSVG draws a QR bitmap (quiet zone included) as one SVG path of unit
// squares, merged along rows.
func qrSVG(bits [][]bool) string {
	n := len(bits)
	var p strings.Builder
	for y, row := range bits {
		for x := 0; x < len(row); {
			if !row[x] {
				x++
				continue
			}
			run := 1
			for x+run < len(row) && row[x+run] {
				run++
			}
			fmt.Fprintf(&p, "M%d %dh%dv1h-%dz", x, y, run, run)
			x += run
		}
	}
	return fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" shape-rendering="crispEdges" role="img" aria-label="Enrollment QR code">`+
		`<rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="%s"/></svg>`, n, n, n*8, n*8, n, n, p.String())
}
