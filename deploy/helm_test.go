package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/portier/portier/config"
)

// dig follows keys (string for maps, int for lists) into a parsed object.
func dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func byKind(ms []manifest, kind string) []manifest {
	var out []manifest
	for _, m := range ms {
		if m.obj["kind"] == kind {
			out = append(out, m)
		}
	}
	return out
}

func one(t *testing.T, ms []manifest, kind string) map[string]any {
	t.Helper()
	got := byKind(ms, kind)
	if len(got) != 1 {
		t.Fatalf("want one %s, got %d", kind, len(got))
	}
	return got[0].obj
}

func container(t *testing.T, ms []manifest) map[string]any {
	t.Helper()
	c, ok := dig(one(t, ms, "Deployment"), "spec", "template", "spec", "containers", 0).(map[string]any)
	if !ok {
		t.Fatal("the Deployment has no container")
	}
	return c
}

func TestHelmChartRendersTheObjects(t *testing.T) {
	for _, tc := range []struct {
		name      string
		overrides map[string]any
		want      []string
	}{
		{"defaults", nil, []string{"ConfigMap", "Deployment", "PodDisruptionBudget", "Service", "Service"}},
		{"service monitor", map[string]any{"metrics": map[string]any{"serviceMonitor": map[string]any{"enabled": true}}},
			[]string{"ConfigMap", "Deployment", "PodDisruptionBudget", "Service", "Service", "ServiceMonitor"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ms := renderChart(t, tc.overrides)
			var kinds []string
			for _, m := range ms {
				kinds = append(kinds, m.obj["kind"].(string))
				if dig(m.obj, "apiVersion") == nil || dig(m.obj, "metadata", "name") == nil {
					t.Errorf("%s: object without apiVersion or name", m.file)
				}
			}
			sort.Strings(kinds)
			if !reflect.DeepEqual(kinds, tc.want) {
				t.Errorf("kinds = %v, want %v", kinds, tc.want)
			}
		})
	}
}

func TestHelmDeploymentRunsHardened(t *testing.T) {
	ms := renderChart(t, nil)
	dep := one(t, ms, "Deployment")
	if got := dig(dep, "spec", "replicas"); got != 2 {
		t.Errorf("replicas = %v, want 2", got)
	}
	pod := dig(dep, "spec", "template", "spec")
	for k, want := range map[string]any{"runAsNonRoot": true, "runAsUser": 65532} {
		if got := dig(pod, "securityContext", k); got != want {
			t.Errorf("pod securityContext.%s = %v, want %v", k, got, want)
		}
	}
	if got := dig(pod, "automountServiceAccountToken"); got != false {
		t.Errorf("automountServiceAccountToken = %v, want false (Portier never talks to the Kubernetes API)", got)
	}
	c := container(t, ms)
	for k, want := range map[string]any{"runAsNonRoot": true, "allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true} {
		if got := dig(c, "securityContext", k); got != want {
			t.Errorf("container securityContext.%s = %v, want %v", k, got, want)
		}
	}
	if got := dig(c, "securityContext", "capabilities", "drop"); !reflect.DeepEqual(got, []any{"ALL"}) {
		t.Errorf("capabilities.drop = %v, want [ALL]", got)
	}
	// With a read-only root, the data dir must be a writable volume.
	mounted := false
	for _, v := range dig(c, "volumeMounts").([]any) {
		if dig(v, "mountPath") == "/var/lib/portier" && dig(v, "readOnly") != true {
			mounted = true
		}
	}
	if !mounted || !slices.Contains(argList(c), "/var/lib/portier") {
		t.Error("the data dir /var/lib/portier is not a writable volume passed as --data-dir")
	}
}

func TestHelmProbesHitHealthAndReadinessOverHTTPS(t *testing.T) {
	for _, tc := range []struct{ url, host string }{
		{"https://portier.example.com", "portier.example.com"},
		{"https://access.corp.example:8443/", "access.corp.example"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			c := container(t, renderChart(t, map[string]any{"externalURL": tc.url}))
			for probe, path := range map[string]string{"livenessProbe": "/healthz", "readinessProbe": "/readyz"} {
				g := dig(c, probe, "httpGet")
				if dig(g, "path") != path || dig(g, "scheme") != "HTTPS" || dig(g, "port") != "https" {
					t.Errorf("%s = %v, want GET %s over HTTPS on port https", probe, g, path)
				}
				// Portier answers /healthz and /readyz only on its external host.
				if dig(g, "httpHeaders", 0, "name") != "Host" || dig(g, "httpHeaders", 0, "value") != tc.host {
					t.Errorf("%s headers = %v, want Host: %s", probe, dig(g, "httpHeaders"), tc.host)
				}
			}
		})
	}
}

func argList(c map[string]any) []string {
	var args []string
	for _, a := range dig(c, "args").([]any) {
		args = append(args, a.(string))
	}
	return args
}

// flagValue returns the value after --name in args.
func flagValue(args []string, name string) (string, bool) {
	i := slices.Index(args, "--"+name)
	if i < 0 || i+1 >= len(args) {
		return "", false
	}
	return args[i+1], true
}

// The chart's config, args and env make a config Portier accepts, with the
// listener on the container port and metrics on the pod network.
func TestHelmConfigIsOnePortierAccepts(t *testing.T) {
	for _, tc := range []struct {
		name     string
		config   map[string]any
		tls      string
		wantCert string
	}{
		{"empty config", map[string]any{}, "", ""},
		{"config and TLS secret", map[string]any{"decision_log": map[string]any{"sample_allows": 0.25}}, "access-tls", "/etc/portier-tls/tls.crt"},
	} {
		t.Run(tc.name, func(t *testing.T) { checkChartConfig(t, tc.config, tc.tls, tc.wantCert) })
	}
}

func checkChartConfig(t *testing.T, conf map[string]any, tlsSecret, wantCert string) {
	ms := renderChart(t, map[string]any{
		"externalURL": "https://access.example.com",
		"config":      conf,
		"tls":         map[string]any{"secretName": tlsSecret},
	})
	cm := one(t, ms, "ConfigMap")
	file := filepath.Join(t.TempDir(), "portier.yaml")
	if err := os.WriteFile(file, []byte(dig(cm, "data", "portier.yaml").(string)), 0o600); err != nil {
		t.Fatal(err)
	}
	c := container(t, ms)
	args := argList(c)
	if args[0] != "serve" {
		t.Fatalf("args = %v, want serve first", args)
	}
	flags := map[string]string{}
	for _, name := range []string{"data-dir", "listen", "external-url", "metrics-listen", "log-format", "log-level"} {
		v, ok := flagValue(args, name)
		if !ok {
			t.Fatalf("args %v lack --%s", args, name)
		}
		flags[name] = v
	}
	if v, _ := flagValue(args, "config"); v != "/etc/portier/portier.yaml" {
		t.Errorf("--config = %q", v)
	}
	env := map[string]string{"PORTIER_STORE": "postgres://portier@db:5432/portier"}
	cfg, err := config.Load(file, func(k string) string { return env[k] }, flags)
	if err != nil {
		t.Fatalf("Portier rejects the chart's config: %v", err)
	}
	if cfg.Listen != ":8443" || cfg.MetricsListen != ":9464" || cfg.ExternalURL != "https://access.example.com" {
		t.Errorf("listen %q, metrics %q, external URL %q", cfg.Listen, cfg.MetricsListen, cfg.ExternalURL)
	}
	if want, _ := dig(conf, "decision_log", "sample_allows").(float64); cfg.DecisionLog.SampleAllows != want {
		t.Errorf("sample_allows = %v: values.config did not reach the config file", cfg.DecisionLog.SampleAllows)
	}
	if cfg.TLS.CertFile != wantCert {
		t.Errorf("tls.cert_file = %q, want %q", cfg.TLS.CertFile, wantCert)
	}
	if wantCert != "" {
		mounted := false
		for _, v := range dig(c, "volumeMounts").([]any) {
			mounted = mounted || (dig(v, "name") == "tls" && strings.HasPrefix(wantCert, dig(v, "mountPath").(string)+"/"))
		}
		if !mounted {
			t.Errorf("the TLS Secret is not mounted where the config points (%s)", wantCert)
		}
	}
	ports := map[any]any{}
	for _, p := range dig(c, "ports").([]any) {
		ports[dig(p, "name")] = dig(p, "containerPort")
	}
	if ports["https"] != 8443 || ports["metrics"] != 9464 {
		t.Errorf("container ports = %v, want https 8443 and metrics 9464", ports)
	}
}

// secretRefs lists every Secret name the rendered objects reference.
func secretRefs(v any) []string {
	var out []string
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if k == "secretKeyRef" || k == "secretRef" {
				out = append(out, dig(e, "name").(string))
			}
			if k == "secret" {
				out = append(out, dig(e, "secretName").(string))
			}
			out = append(out, secretRefs(e)...)
		}
	case []any:
		for _, e := range x {
			out = append(out, secretRefs(e)...)
		}
	}
	return out
}

func TestHelmSecretsComeFromValues(t *testing.T) {
	ms := renderChart(t, map[string]any{
		"store":         map[string]any{"secretName": "my-dsn", "secretKey": "url"},
		"caKeyPassword": map[string]any{"secretName": "my-ca", "secretKey": "pw"},
		"tls":           map[string]any{"secretName": "my-tls"},
	})
	var refs []string
	for _, m := range ms {
		if m.obj["kind"] == "Secret" {
			t.Errorf("the chart creates Secret %v; it must only reference the operator's", dig(m.obj, "metadata", "name"))
		}
		refs = append(refs, secretRefs(m.obj)...)
	}
	sort.Strings(refs)
	if !reflect.DeepEqual(refs, []string{"my-ca", "my-dsn", "my-tls"}) {
		t.Errorf("secrets referenced = %v, want exactly the ones named in values [my-ca my-dsn my-tls]", refs)
	}
	env := map[any]any{}
	for _, e := range dig(container(t, ms), "env").([]any) {
		env[dig(e, "name")] = dig(e, "valueFrom", "secretKeyRef", "name").(string) + "/" + dig(e, "valueFrom", "secretKeyRef", "key").(string)
		if dig(e, "value") != nil {
			t.Errorf("env %v carries a literal value", dig(e, "name"))
		}
	}
	want := map[any]any{"PORTIER_STORE": "my-dsn/url", "PORTIER_CA_KEY_PASSWORD": "my-ca/pw"}
	if !reflect.DeepEqual(env, want) {
		t.Errorf("env = %v, want %v", env, want)
	}
}

func TestHelmServicesPassTCPAndKeepMetricsInside(t *testing.T) {
	ms := renderChart(t, map[string]any{
		"service": map[string]any{"type": "LoadBalancer"},
		"metrics": map[string]any{"serviceMonitor": map[string]any{"enabled": true}},
	})
	podLabels := dig(one(t, ms, "Deployment"), "spec", "template", "metadata", "labels").(map[string]any)
	matches := func(sel any) bool {
		m, ok := sel.(map[string]any)
		if !ok || len(m) == 0 {
			return false
		}
		for k, v := range m {
			if podLabels[k] != v {
				return false
			}
		}
		return true
	}
	var public, internal map[string]any
	for _, s := range byKind(ms, "Service") {
		if strings.HasSuffix(dig(s.obj, "metadata", "name").(string), "-metrics") {
			internal = s.obj
		} else {
			public = s.obj
		}
	}
	if public == nil || internal == nil {
		t.Fatal("want a public Service and a metrics Service")
	}
	if !matches(dig(public, "spec", "selector")) || !matches(dig(internal, "spec", "selector")) {
		t.Error("a Service does not select the Deployment's pods")
	}
	ports := dig(public, "spec", "ports").([]any)
	if len(ports) != 1 || dig(ports[0], "protocol") != "TCP" || dig(ports[0], "targetPort") != "https" {
		t.Errorf("public Service ports = %v, want only TCP to the https port (metrics never public)", ports)
	}
	if dig(public, "spec", "externalTrafficPolicy") != "Local" {
		t.Error("a LoadBalancer Service must keep the client address (externalTrafficPolicy: Local)")
	}
	if dig(internal, "spec", "type") != "ClusterIP" || dig(internal, "spec", "ports", 0, "targetPort") != "metrics" {
		t.Errorf("metrics Service = %v, want ClusterIP to the metrics port", dig(internal, "spec"))
	}
	if !matches(dig(one(t, ms, "PodDisruptionBudget"), "spec", "selector", "matchLabels")) {
		t.Error("the PodDisruptionBudget does not select the Deployment's pods")
	}
	sm := one(t, ms, "ServiceMonitor")
	sel := dig(sm, "spec", "selector", "matchLabels").(map[string]any)
	il := dig(internal, "metadata", "labels").(map[string]any)
	pl := dig(public, "metadata", "labels").(map[string]any)
	selects := func(l map[string]any) bool {
		for k, v := range sel {
			if l[k] != v {
				return false
			}
		}
		return true
	}
	if !selects(il) || selects(pl) {
		t.Error("the ServiceMonitor must select the metrics Service only")
	}
	if dig(sm, "spec", "endpoints", 0, "port") != "metrics" {
		t.Errorf("ServiceMonitor endpoint = %v", dig(sm, "spec", "endpoints"))
	}
}

// The Go renderer renders what helm renders (run where helm is installed;
// skips elsewhere): objects equal, file by file, for a few value sets.
func TestGoRendererMatchesHelm(t *testing.T) {
	helm, err := exec.LookPath("helm")
	if err != nil {
		t.Skip("helm is not installed: the Go renderer is not compared with it here")
	}
	for _, overrides := range []map[string]any{
		nil,
		{"service": map[string]any{"type": "LoadBalancer"}, "tls": map[string]any{"secretName": "t"},
			"metrics":        map[string]any{"serviceMonitor": map[string]any{"enabled": true, "labels": map[string]any{"release": "prom"}}},
			"config":         map[string]any{"routes": []any{map[string]any{"from": "https://a.example.com", "to": "http://a:80", "policy": "p"}}},
			"podAnnotations": map[string]any{"a": "b"}, "nodeSelector": map[string]any{"disk": "ssd"}},
	} {
		// toYaml's text differs in list indentation (yaml.v3 versus Helm's
		// encoder): compare the config file parsed, and not the checksum of
		// its text.
		key := func(ms []manifest) map[string]any {
			out := map[string]any{}
			for _, m := range ms {
				if m.obj["kind"] == "ConfigMap" {
					var parsed any
					if err := yaml.Unmarshal([]byte(dig(m.obj, "data", "portier.yaml").(string)), &parsed); err != nil {
						t.Fatal(err)
					}
					m.obj["data"].(map[string]any)["portier.yaml"] = parsed
				}
				if a, ok := dig(m.obj, "spec", "template", "metadata", "annotations").(map[string]any); ok {
					delete(a, "checksum/config")
				}
				out[m.obj["kind"].(string)+"/"+dig(m.obj, "metadata", "name").(string)] = m.obj
			}
			return out
		}
		got, want := key(goRender(t, overrides)), key(helmRender(t, helm, overrides))
		if !reflect.DeepEqual(got, want) {
			t.Errorf("values %v: the Go renderer and helm differ\ngo:   %v\nhelm: %v", overrides, got, want)
		}
	}
}
