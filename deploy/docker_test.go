package deploy

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// containerEngine returns docker or podman when one is installed and its
// daemon answers; the test skips otherwise, even with
// PORTIER_TEST_REQUIRE_ALL=1 (CI has no container engine).
func containerEngine(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"docker", "podman"} {
		path, err := exec.LookPath(name)
		if err != nil {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err = exec.CommandContext(ctx, path, "info").Run()
		cancel()
		if err == nil {
			return path
		}
		t.Logf("%s is installed but does not answer (%v)", name, err)
	}
	t.Skip("no working docker or podman: the image build is not tested here (not required by PORTIER_TEST_REQUIRE_ALL)")
	return ""
}

// The Dockerfile's promises, read without building: a pinned builder, a
// static binary, a distroless non-root final stage.
func TestDockerfileShape(t *testing.T) {
	b, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	for _, want := range []string{
		`(?m)^FROM golang:1\.26 AS build$`,
		`CGO_ENABLED=0 go build -trimpath`,
		`-X github.com/portier/portier/cli.Version=\$\{VERSION\}`,
		`(?m)^FROM gcr\.io/distroless/static-debian12:nonroot$`,
		`(?m)^USER 65532:65532$`,
		`(?m)^EXPOSE 8443 9464$`,
		`(?m)^VOLUME \["/var/lib/portier"\]$`,
		`(?m)^ENTRYPOINT \["/usr/local/bin/portier"\]$`,
	} {
		if !regexp.MustCompile(want).MatchString(df) {
			t.Errorf("Dockerfile lacks %s", want)
		}
	}
	// The last FROM is the image that ships: nothing after it may switch
	// back to root.
	last := df[strings.LastIndex(df, "\nFROM "):]
	if regexp.MustCompile(`(?m)^USER (root|0)\b`).MatchString(last) {
		t.Error("the final stage runs as root")
	}
	if _, err := os.Stat("../cli/version.go"); err != nil {
		t.Errorf("the version ldflag names cli.Version: %v", err)
	}
	ig, err := os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{".git", "**/portier-data"} {
		if !strings.Contains(string(ig), want+"\n") {
			t.Errorf(".dockerignore does not keep %s out of the build context", want)
		}
	}
}

func TestDockerImageBuildsAndRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds an image; not in -short")
	}
	engine := containerEngine(t)
	tag := "portier-deploy-test:" + time.Now().Format("20060102150405")
	build := exec.Command(engine, "build", "--build-arg", "VERSION=v0.0.0-test", "-t", tag, "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("%s build: %v\n%s", engine, err, out)
	}
	t.Cleanup(func() { _ = exec.Command(engine, "rmi", "-f", tag).Run() })
	out, err := exec.Command(engine, "run", "--rm", tag, "version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "portier v0.0.0-test") {
		t.Fatalf("portier version in the image: %v\n%s", err, out)
	}
	out, err = exec.Command(engine, "image", "inspect", "--format", "{{.Config.User}}", tag).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "65532:65532" {
		t.Errorf("image user = %q (%v), want 65532:65532", out, err)
	}
}
