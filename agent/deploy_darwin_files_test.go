package agent

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLaunchdFilesAreWellFormed: launchd and MDM read these files as XML
// property lists; a "--" inside a comment or a broken rule would make
// them refuse the whole file.
func TestLaunchdFilesAreWellFormed(t *testing.T) {
	files, _ := filepath.Glob("../deploy/launchd/*")
	if len(files) < 2 {
		t.Fatalf("deploy/launchd files = %v", files)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		d := xml.NewDecoder(bytes.NewReader(b))
		inRule := false
		for {
			tok, err := d.Token()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			switch tok := tok.(type) {
			case xml.StartElement:
				inRule = tok.Name.Local == "string"
			case xml.EndElement:
				inRule = false
			case xml.CharData:
				// Every AutoSelectCertificateForUrls entry must be JSON.
				if s := strings.TrimSpace(string(tok)); inRule && strings.HasPrefix(s, "{") && !json.Valid([]byte(s)) {
					t.Errorf("%s: rule %s is not JSON", f, s)
				}
			}
		}
	}
}
