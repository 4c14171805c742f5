// Package tpmtest starts a software TPM 2.0 (Debian's swtpm) for tests that
// need a real TPM: the agent's TPM-bound key and the server's verification
// of TPM key attestation run against it, command for command as against a
// chip. Tests in any package may use it. Without swtpm installed, Start
// skips the test, or fails it when PORTIER_TEST_REQUIRE_ALL=1 (.ci/run
// installs the swtpm package).
package tpmtest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// TPM is a running swtpm: a fresh TPM 2.0 with its own state directory,
// listening on loopback.
type TPM struct {
	// Addr is the TPM command port (host:port); the control port is the
	// next one, as the TSS's swtpm TCTI wants.
	Addr string
	// TCTI is how the TSS tools (tpm2-tools, tpm2_ptool, the tpm2-pkcs11
	// module; TPM2TOOLS_TCTI, TPM2_PKCS11_TCTI) or tpm2-abrmd --tcti reach
	// this TPM: "swtpm:host=127.0.0.1,port=N". swtpm serves one
	// connection at a time, and without a resource manager the tools leave
	// objects loaded: put tpm2-abrmd --flush-all in front of it when a
	// tool and Open must share the TPM.
	TCTI string
	// Dir is the TPM's state directory.
	Dir string
	cmd *exec.Cmd
}

// Start starts a fresh software TPM for t, stopped at the end of the test.
func Start(t testing.TB) *TPM {
	t.Helper()
	bin, err := exec.LookPath("swtpm")
	if err != nil {
		msg := "swtpm is not installed (Debian package swtpm): the TPM tests need it"
		if os.Getenv("PORTIER_TEST_REQUIRE_ALL") == "1" {
			t.Fatal(msg + ", and PORTIER_TEST_REQUIRE_ALL=1 requires it")
		}
		t.Skip(msg)
	}
	dir := t.TempDir()
	var last error
	for try := 0; try < 5; try++ {
		cmdPort := adjacentPorts(t)
		ctrlPort := cmdPort + 1
		cmd := exec.Command(bin, "socket", "--tpm2",
			"--tpmstate", "dir="+dir,
			"--server", "type=tcp,port="+strconv.Itoa(cmdPort)+",bindaddr=127.0.0.1",
			"--ctrl", "type=tcp,port="+strconv.Itoa(ctrlPort)+",bindaddr=127.0.0.1",
			"--flags", "not-need-init,startup-clear",
			"--log", "file="+filepath.Join(dir, "swtpm.log"))
		if err := cmd.Start(); err != nil {
			t.Fatalf("tpmtest: start swtpm: %v", err)
		}
		tpm := &TPM{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(cmdPort)), Dir: dir, cmd: cmd,
			TCTI: "swtpm:host=127.0.0.1,port=" + strconv.Itoa(cmdPort)}
		if last = tpm.waitReady(cmd); last == nil {
			t.Cleanup(tpm.stop)
			return tpm
		}
		tpm.stop()
	}
	t.Fatalf("tpmtest: swtpm did not start: %v", last)
	return nil
}

// waitReady waits until swtpm accepts a connection on its command port.
func (tpm *TPM) waitReady(cmd *exec.Cmd) error {
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("swtpm exited: %v", err)
		default:
		}
		c, err := net.DialTimeout("tcp", tpm.Addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return errors.New("timed out")
}

func (tpm *TPM) stop() {
	if tpm.cmd.Process != nil {
		tpm.cmd.Process.Kill()
	}
}

// Open connects to the TPM's command port: TPM 2.0 commands written to the
// connection are answered on it, as through /dev/tpmrm0. swtpm serves one
// connection at a time; close it before opening another.
func (tpm *TPM) Open() (*Conn, error) {
	c, err := net.DialTimeout("tcp", tpm.Addr, 5*time.Second)
	if err != nil {
		return nil, fmt.Errorf("tpmtest: connect to swtpm: %w", err)
	}
	return &Conn{Conn: c}, nil
}

// Conn is a connection to the software TPM. It implements go-attestation's
// attest.CommandChannelTPM20 (a TPM 2.0 command channel with no
// measurement log).
type Conn struct {
	net.Conn
}

// MeasurementLog returns no log: swtpm has no firmware that measured a boot.
func (c *Conn) MeasurementLog() ([]byte, error) { return nil, nil }

// ports holds the ports handed out in this test binary, so two TPMs started
// at once never get the same one.
var ports sync.Map

// adjacentPorts returns a free port whose next port is free too, both
// handed out to no other TPM of this test binary.
func adjacentPorts(t testing.TB) int {
	t.Helper()
	for try := 0; try < 100; try++ {
		p := freePort(t)
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+1))
		if err != nil {
			continue
		}
		l.Close()
		if _, dup := ports.LoadOrStore(p+1, true); !dup {
			return p
		}
	}
	t.Fatal("tpmtest: no two adjacent free ports")
	return 0
}

func freePort(t testing.TB) int {
	t.Helper()
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("tpmtest: free port: %v", err)
		}
		p := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if _, dup := ports.LoadOrStore(p, true); !dup {
			return p
		}
	}
}
