package console

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/enrollment"
)

// agentDownloadPrefix is where the agent binary is served, one file per
// "{os}-{arch}".
const agentDownloadPrefix = "/download/agent/"

// agentPlatformRE is what a "{os}-{arch}" may look like: lower-case letters
// and digits, so no path can be smuggled into a file name.
var agentPlatformRE = regexp.MustCompile(`^[a-z][a-z0-9]{1,15}-[a-z0-9]{2,15}$`)

// agentBinary is one downloadable agent: where it is on disk, the name the
// browser saves it under, and its SHA-256.
type agentBinary struct {
	Platform string // "{os}-{arch}"
	Path     string
	Name     string
	Size     int64
	ModTime  time.Time
	SHA256   string
}

// agentFiles finds the agent binaries: the server's own executable for
// its own GOOS/GOARCH, and portier-{os}-{arch}[.exe] in the configured
// directory for the others. Hashes are computed once per file version.
type agentFiles struct {
	dir  string
	exe  func() (string, error)
	mu   sync.Mutex
	sums map[string]string // path|size|mtime → hex SHA-256
}

func newAgentFiles(dir string, exe func() (string, error)) *agentFiles {
	if exe == nil {
		exe = os.Executable
	}
	return &agentFiles{dir: dir, exe: exe, sums: map[string]string{}}
}

// find returns the binary for platform ("{os}-{arch}"), or false when
// Portier has none (or the name is not a platform).
func (a *agentFiles) find(platform string) (*agentBinary, bool) {
	if !agentPlatformRE.MatchString(platform) {
		return nil, false
	}
	goos, _, _ := strings.Cut(platform, "-")
	name := "portier"
	if goos == "windows" {
		name += ".exe"
	}
	var path string
	if platform == runtime.GOOS+"-"+runtime.GOARCH {
		p, err := a.exe()
		if err != nil {
			return nil, false
		}
		path = p
	} else if a.dir != "" {
		path = filepath.Join(a.dir, "portier-"+platform+strings.TrimPrefix(name, "portier"))
	} else {
		return nil, false
	}
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() {
		return nil, false
	}
	b := &agentBinary{Platform: platform, Path: path, Name: name, Size: fi.Size(), ModTime: fi.ModTime()}
	b.SHA256, err = a.sum(b)
	return b, err == nil
}

// sum is the file's SHA-256, cached while its size and time do not change.
func (a *agentFiles) sum(b *agentBinary) (string, error) {
	key := fmt.Sprintf("%s|%d|%d", b.Path, b.Size, b.ModTime.UnixNano())
	a.mu.Lock()
	defer a.mu.Unlock()
	if s, ok := a.sums[key]; ok {
		return s, nil
	}
	f, err := os.Open(b.Path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	s := hex.EncodeToString(h.Sum(nil))
	a.sums[key] = s
	return s, nil
}

// agentDownload is GET /download/agent/{os}-{arch}: the agent binary,
// streamed as an attachment with its SHA-256 in a header. Open: the agent
// is no secret, and a person installs it before having any device.
func (c *Console) agentDownload(g *gin.Context) {
	b, ok := c.agents.find(g.Param("platform"))
	if !ok {
		g.Header("Cache-Control", "no-store")
		g.String(http.StatusNotFound, "404 Portier has no agent for %q. The agent is available for %s; ask IT for other platforms.\n",
			g.Param("platform"), strings.Join(c.agents.available(), ", "))
		return
	}
	f, err := os.Open(b.Path)
	if err != nil {
		g.String(http.StatusNotFound, "404 the agent file cannot be read\n")
		return
	}
	defer f.Close()
	g.Header("Content-Type", "application/octet-stream")
	g.Header("Content-Disposition", `attachment; filename="`+b.Name+`"`)
	g.Header("X-Content-Type-Options", "nosniff")
	g.Header("X-Checksum-Sha256", b.SHA256)
	g.Header("Cache-Control", "no-cache")
	http.ServeContent(g.Writer, g.Request, b.Name, b.ModTime, f)
}

// available lists the platforms Portier can serve an agent for.
func (a *agentFiles) available() []string {
	out := []string{runtime.GOOS + "-" + runtime.GOARCH}
	if a.dir == "" {
		return out
	}
	ents, _ := os.ReadDir(a.dir)
	for _, e := range ents {
		p := strings.TrimSuffix(strings.TrimPrefix(e.Name(), "portier-"), ".exe")
		if e.Type().IsRegular() && strings.HasPrefix(e.Name(), "portier-") && agentPlatformRE.MatchString(p) && p != out[0] {
			out = append(out, p)
		}
	}
	return out
}

// visitorAgent is the agent binary for the visitor's computer, guessed
// from the User-Agent (untrusted: it only picks a link), or nil on a
// phone, an unknown platform, or a platform Portier has no binary for.
func (c *Console) visitorAgent(ua string) *agentBinary {
	goos := map[string]string{"linux": "linux", "macos": "darwin", "windows": "windows"}[enrollment.BrowserPlatform(ua)]
	if goos == "" {
		return nil
	}
	arch := "amd64"
	switch {
	case goos == "darwin":
		arch = "arm64" // browsers on Apple silicon still say "Intel Mac OS X"
	case strings.Contains(ua, "aarch64"), strings.Contains(ua, "ARM64"), strings.Contains(ua, "arm64"):
		arch = "arm64"
	}
	b, ok := c.agents.find(goos + "-" + arch)
	if !ok {
		return nil
	}
	return b
}
