package deploy

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"text/template"

	"gopkg.in/yaml.v3"
)

const chartDir = "helm/portier"

// manifest is one rendered Kubernetes object and the template it came from.
type manifest struct {
	file string
	obj  map[string]any
}

// renderChart renders the chart with its values.yaml overlaid by
// overrides: with `helm template` when helm is installed, else with
// goRender, a minimal Helm. The templates use only the functions goRender
// implements (a template using another one fails to parse here).
func renderChart(t *testing.T, overrides map[string]any) []manifest {
	t.Helper()
	if helm, err := exec.LookPath("helm"); err == nil {
		return helmRender(t, helm, overrides)
	}
	t.Log("helm is not installed: rendering the chart with the Go renderer")
	return goRender(t, overrides)
}

func helmRender(t *testing.T, helm string, overrides map[string]any) []manifest {
	t.Helper()
	b, err := yaml.Marshal(overrides)
	if err != nil {
		t.Fatal(err)
	}
	vf := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(vf, b, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(helm, "template", "rel", chartDir, "-f", vf).CombinedOutput()
	if err != nil {
		t.Fatalf("helm template: %v\n%s", err, out)
	}
	var ms []manifest
	for _, doc := range strings.Split(string(out), "\n---") {
		file := ""
		if m := regexp.MustCompile(`# Source: portier/templates/(\S+)`).FindStringSubmatch(doc); m != nil {
			file = m[1]
		}
		ms = append(ms, parseManifests(t, file, doc)...)
	}
	return ms
}

func goRender(t *testing.T, overrides map[string]any) []manifest {
	t.Helper()
	values := readYAMLMap(t, filepath.Join(chartDir, "values.yaml"))
	mergeValues(values, overrides)
	chart := readYAMLMap(t, filepath.Join(chartDir, "Chart.yaml"))
	top := map[string]any{
		"Values":  values,
		"Release": map[string]any{"Name": "rel", "Namespace": "default"},
		"Chart":   map[string]any{"Name": chart["name"], "Version": chart["version"], "AppVersion": chart["appVersion"]},
	}
	root := template.New("chart")
	root.Funcs(helmFuncs(root))
	files, err := filepath.Glob(filepath.Join(chartDir, "templates", "*"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := root.New(filepath.Base(f)).Parse(string(b)); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
	var ms []manifest
	for _, f := range files {
		name := filepath.Base(f)
		if strings.HasPrefix(name, "_") {
			continue
		}
		var buf bytes.Buffer
		if err := root.ExecuteTemplate(&buf, name, top); err != nil {
			t.Fatalf("render %s: %v", name, err)
		}
		if strings.Contains(buf.String(), "<no value>") {
			t.Fatalf("%s uses a value that values.yaml does not define:\n%s", name, buf.String())
		}
		ms = append(ms, parseManifests(t, name, buf.String())...)
	}
	return ms
}

// helmFuncs are the Helm/Sprig functions the chart uses, with Helm's
// argument order (the piped value comes last).
func helmFuncs(root *template.Template) template.FuncMap {
	return template.FuncMap{
		"include": func(name string, data any) (string, error) {
			var buf bytes.Buffer
			err := root.ExecuteTemplate(&buf, name, data)
			return buf.String(), err
		},
		"toYaml": func(v any) (string, error) {
			var buf bytes.Buffer
			enc := yaml.NewEncoder(&buf)
			enc.SetIndent(2)
			if err := enc.Encode(v); err != nil {
				return "", err
			}
			return strings.TrimSuffix(buf.String(), "\n"), nil
		},
		"nindent": func(n int, s string) string {
			pad := strings.Repeat(" ", n)
			return "\n" + pad + strings.ReplaceAll(s, "\n", "\n"+pad)
		},
		"quote": func(v any) string { return fmt.Sprintf("%q", fmt.Sprint(v)) },
		"default": func(d, v any) any {
			if v == nil || reflect.ValueOf(v).IsZero() {
				return d
			}
			return v
		},
		"printf":     fmt.Sprintf,
		"trimPrefix": func(prefix, s string) string { return strings.TrimPrefix(s, prefix) },
		"regexReplaceAll": func(re, s, repl string) string {
			return regexp.MustCompile(re).ReplaceAllString(s, repl)
		},
		"sha256sum": func(s string) string {
			h := sha256.Sum256([]byte(s))
			return hex.EncodeToString(h[:])
		},
	}
}

// mergeValues overlays src onto dst, recursing into maps, as helm -f does.
func mergeValues(dst, src map[string]any) {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				mergeValues(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
}

func readYAMLMap(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]any{}
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return m
}

// parseManifests parses every YAML document in s; empty ones are skipped.
func parseManifests(t *testing.T, file, s string) []manifest {
	t.Helper()
	var ms []manifest
	dec := yaml.NewDecoder(strings.NewReader(s))
	for {
		var obj map[string]any
		err := dec.Decode(&obj)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return ms
			}
			t.Fatalf("%s does not render to valid YAML: %v\n%s", file, err, s)
		}
		if obj != nil {
			ms = append(ms, manifest{file: file, obj: obj})
		}
	}
}
