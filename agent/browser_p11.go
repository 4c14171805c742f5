package agent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// On Linux with a TPM 2.0 and the tpm2-pkcs11 module, a person's Chromium
// can present a key that lives in the TPM. The agent (root) makes the key
// itself, as it makes its device key: under the TPM's storage root key
// (SRK, 0x81000001), certified by an attestation key whose challenge the
// server issued to this device, so the browser certificate
// (POST /api/v1/agent/browser-certificates) says hardware, tpm_attested.
// It then hands the key to the person: a token in their own tpm2-pkcs11
// store (~/.tpm2_pkcs11) whose primary object is the SRK, with an EMPTY
// user PIN (the token drops CKF_LOGIN_REQUIRED, so NSS never asks for a
// PIN), the key linked into it (`tpm2_ptool link`, the TSS2 key file),
// the certificate on it, and the module registered in the person's NSS
// database. docs/agent.md, "Linux: TPM keys in the browser (tpm2-pkcs11)",
// says what this protects and what it does not.

// Names the TPM browser key uses.
const (
	// TPMTokenLabel is the label of the token the agent makes in a
	// person's tpm2-pkcs11 store.
	TPMTokenLabel = "portier"
	// TPMModuleName is the name of the tpm2-pkcs11 module in NSS.
	TPMModuleName = "Portier TPM"
	// tpmStoreDir is the person's tpm2-pkcs11 store, under their home:
	// where the module looks when TPM2_PKCS11_STORE is not set.
	tpmStoreDir = ".tpm2_pkcs11"
	// tpmSystemStore is searched by the module before the home store.
	tpmSystemStore = "/etc/tpm2_pkcs11/tpm2_pkcs11.sqlite3"
)

// Prefixes of Placement.Entries that mark an NSS placement whose key is in
// the TPM, and say what to undo.
const (
	entryTPMStore  = "tpm2-pkcs11-store:"
	entryTPMModule = "tpm2-pkcs11-module:"
)

// TPMBrowserKeys sets up, per person, a TPM-bound browser key through
// tpm2-pkcs11 (Debian packages libtpm2-pkcs11-1, libtpm2-pkcs11-tools and
// libnss3-tools). The key is the agent's making (BrowserIdentity.
// NewTPMBrowserKey); every command runs as the person.
type TPMBrowserKeys struct {
	// Module is the tpm2-pkcs11 module (libtpm2_pkcs11.so).
	Module string
	// Run runs the tools (default: PersonCommands).
	Run CommandRunner
	// Ptool, Modutil and Certutil are the tools (default: found in PATH).
	Ptool, Modutil, Certutil string
	// Env, when set, prefixes every command with `env Env...`: the TCTI
	// of a test TPM (TPM2TOOLS_TCTI, TPM2_PKCS11_TCTI). Unset, the tools
	// use the TSS default (/dev/tpmrm0).
	Env []string
	// Device is the TPM device the person must be able to open (default
	// /dev/tpmrm0); "-" skips the check (a test TPM behind Env).
	Device string
	// TempDir holds the short-lived files handed to the person's tools
	// (default os.TempDir()); Chown gives them to the person (default
	// os.Chown).
	TempDir string
	Chown   func(path string, uid, gid int) error
	// Log receives why a person got the software key instead.
	Log *slog.Logger
}

// DetectTPMBrowserKeys returns the TPM browser keys when this machine can
// have them: the tpm2-pkcs11 module, tpm2_ptool, modutil and certutil
// installed and /dev/tpmrm0 present (fsys is rooted at "/"); nil otherwise.
func DetectTPMBrowserKeys(fsys fs.FS, lookPath func(string) (string, error), log *slog.Logger) *TPMBrowserKeys {
	if _, err := fs.Stat(fsys, "dev/tpmrm0"); err != nil {
		return nil
	}
	for _, tool := range []string{"tpm2_ptool", "modutil", "certutil"} {
		if _, err := lookPath(tool); err != nil {
			return nil
		}
	}
	for _, m := range tpm2PKCS11Modules {
		if _, err := fs.Stat(fsys, m); err == nil {
			return &TPMBrowserKeys{Module: "/" + m, Log: log}
		}
	}
	return nil
}

func (k *TPMBrowserKeys) log() *slog.Logger {
	if k.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return k.Log
}

// cmd is a command of the person, through `env` when Env is set.
func (k *TPMBrowserKeys) cmd(u LocalUser, tool, def string, args ...string) Command {
	path := orDefaultString(tool, def)
	if len(k.Env) == 0 {
		return Command{Path: path, Args: args, User: &u}
	}
	return Command{Path: "env", Args: append(append(slices.Clone(k.Env), path), args...), User: &u}
}

func (k *TPMBrowserKeys) run(ctx context.Context, c Command) ([]byte, error) {
	run := k.Run
	if run == nil {
		run = PersonCommands
	}
	out, err := run(ctx, c)
	if err != nil {
		return out, fmt.Errorf("%s: %w: %s", toolName(c), err, trimOut(out))
	}
	return out, nil
}

// toolName names a command in errors and logs without its arguments (the
// SO PIN is one): the tool and its subcommand, such as "tpm2_ptool
// addtoken".
func toolName(c Command) string {
	args := append([]string{c.Path}, c.Args...)
	for len(args) > 1 && (filepath.Base(args[0]) == "env" || strings.Contains(args[0], "=")) {
		args = args[1:]
	}
	name := filepath.Base(args[0])
	if len(args) > 1 && !strings.HasPrefix(args[1], "-") && !strings.ContainsAny(args[1], "=/") {
		name += " " + args[1]
	}
	return name
}

func (k *TPMBrowserKeys) ptool(ctx context.Context, u LocalUser, args ...string) ([]byte, error) {
	return k.run(ctx, k.cmd(u, k.Ptool, "tpm2_ptool", args...))
}

func (k *TPMBrowserKeys) modutil(ctx context.Context, u LocalUser, db string, args ...string) ([]byte, error) {
	return k.run(ctx, k.cmd(u, k.Modutil, "modutil", append([]string{"-dbdir", "sql:" + db}, args...)...))
}

func (k *TPMBrowserKeys) certutil(ctx context.Context, u LocalUser, args ...string) ([]byte, error) {
	return k.run(ctx, k.cmd(u, k.Certutil, "certutil", args...))
}

// idLine is the "id: N" of tpm2_ptool init and listprimaries.
var idLine = regexp.MustCompile(`(?m)^\s*-?\s*id:\s*(\d+)\s*$`)

// Install puts a TPM-bound browser key for u into the NSS database db
// (p is its placement, filled in). It returns false, having removed what
// it made, when the key could not be set up: the caller then imports the
// software key as before.
func (k *TPMBrowserKeys) Install(ctx context.Context, u LocalUser, p *Placement, id *BrowserIdentity) bool {
	orig := *p
	err := k.install(ctx, u, p, id)
	if err == nil {
		return true
	}
	k.log().Warn("agent: no TPM key for the browsers of this person; the software key is used", "user", u.Name, "err", err)
	if rmErr := k.Remove(ctx, *p); rmErr != nil {
		k.log().Warn("agent: a partly made TPM browser key was not removed", "user", u.Name, "err", rmErr)
	}
	*p = orig
	return false
}

func (k *TPMBrowserKeys) install(ctx context.Context, u LocalUser, p *Placement, id *BrowserIdentity) error {
	if id.NewTPMBrowserKey == nil {
		return errors.New("the agent cannot make TPM browser keys (no server to certify them)")
	}
	if k.Module == "" {
		return errors.New("no tpm2-pkcs11 module")
	}
	if _, err := os.Stat(tpmSystemStore); err == nil {
		return fmt.Errorf("%s exists: the module would use that store instead of the person's", tpmSystemStore)
	}
	if dev := orDefaultString(k.Device, "/dev/tpmrm0"); dev != "-" {
		if err := personCanOpen(dev, u); err != nil {
			return err
		}
	}
	label, err := keyLabel(id.DeviceID)
	if err != nil {
		return err
	}
	// The agent makes and certifies the key first, and is done with the
	// TPM before the person's tools use it.
	key, err := id.NewTPMBrowserKey(ctx, u.Name)
	if err != nil {
		return err
	}
	if err := checkTPMBrowserKey(key); err != nil {
		return err
	}
	chain := key.Chain
	store := filepath.Join(u.Home, tpmStoreDir)
	db := p.Path
	p.Entries = []string{entryTPMStore + store, entryTPMModule + k.Module}
	if out, err := k.run(ctx, Command{Path: "mkdir", Args: []string{"-p", "-m", "0700", store}, User: &u}); err != nil {
		return fmt.Errorf("mkdir: %w: %s", err, trimOut(out))
	}
	pid, err := k.primary(ctx, u, store)
	if err != nil {
		return err
	}
	// A token left by an earlier run goes first: one Portier token.
	_, _ = k.ptool(ctx, u, "rmtoken", "--label="+TPMTokenLabel, "--path="+store)
	var so [16]byte
	if _, err := rand.Read(so[:]); err != nil {
		return err
	}
	// The SO PIN is random and forgotten: nobody needs to reset the user
	// PIN of a token the agent remakes at every renewal.
	if _, err := k.ptool(ctx, u, "addtoken", "--pid="+pid, "--sopin="+hex.EncodeToString(so[:]), "--userpin=",
		"--label="+TPMTokenLabel, "--path="+store); err != nil {
		return err
	}
	tmp, err := (&NSSStore{TempDir: k.TempDir, Chown: k.Chown}).privateFiles(u, nil)
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	p.Serial = chain[0].SerialNumber.String()
	files := map[string][]byte{"browser.key": key.File, "cert.pem": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: chain[0].Raw})}
	for i, c := range chain[1:] {
		files[fmt.Sprintf("ca-%d.pem", i)] = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	if err := writePersonFiles(tmp, u, k.Chown, files); err != nil {
		return err
	}
	if _, err := k.ptool(ctx, u, "link", "--label="+TPMTokenLabel, "--key-label="+label, "--userpin=", "--path="+store,
		filepath.Join(tmp, "browser.key")); err != nil {
		return err
	}
	if _, err := k.ptool(ctx, u, "addcert", "--label="+TPMTokenLabel, "--key-label="+label, "--path="+store,
		filepath.Join(tmp, "cert.pem")); err != nil {
		return err
	}
	if err := k.ensureDB(ctx, u, db); err != nil {
		return err
	}
	_, _ = k.modutil(ctx, u, db, "-delete", TPMModuleName, "-force")
	if _, err := k.modutil(ctx, u, db, "-add", TPMModuleName, "-libfile", k.Module, "-force"); err != nil {
		return err
	}
	for i, c := range chain[1:] {
		nick := c.Subject.CommonName
		if nick == "" || strings.ContainsAny(nick, "\n\r") {
			continue
		}
		if _, err := k.certutil(ctx, u, "-A", "-d", "sql:"+db, "-n", nick, "-t", ",,", "-a", "-i",
			filepath.Join(tmp, fmt.Sprintf("ca-%d.pem", i))); err != nil {
			return err
		}
		p.CANicknames = append(p.CANicknames, nick)
	}
	// NSS names a token's certificate "<token>:<label>"; it must be there,
	// as a certificate with its key (trust u,u,u).
	p.Nickname = TPMTokenLabel + ":" + label
	out, err := k.certutil(ctx, u, "-L", "-d", "sql:"+db, "-h", "all")
	if err != nil {
		return err
	}
	if !listsNickname(out, p.Nickname) {
		return fmt.Errorf("NSS does not list %q after loading the module: %s", p.Nickname, trimOut(out))
	}
	return nil
}

// keyLabel is the key's label on the token: the device id.
func keyLabel(deviceID string) (string, error) {
	if _, err := policyFileName(deviceID); err != nil {
		return "", err
	}
	return deviceID, nil
}

// primary returns the id of the store's primary object that is the SRK
// (persistent handle 0x81000001, under which the agent made the key),
// adding it to the store (tpm2_ptool init --primary-handle) when the store
// has none. tpm2_ptool link refuses a key whose parent is not the
// token's primary object.
func (k *TPMBrowserKeys) primary(ctx context.Context, u LocalUser, store string) (string, error) {
	if out, err := k.ptool(ctx, u, "listprimaries", "--path="+store); err == nil {
		if id, ok := srkPrimary(out); ok {
			return id, nil
		}
	}
	out, err := k.ptool(ctx, u, "init", fmt.Sprintf("--primary-handle=0x%x", srkHandle), "--path="+store)
	if err != nil {
		return "", err
	}
	m := idLine.FindSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("tpm2_ptool init said no id: %s", trimOut(out))
	}
	return string(m[1]), nil
}

// srkPrimary finds, in the output of tpm2_ptool listprimaries (a YAML
// list of {config: {esys-tr: HEX, transient: BOOL}, id: N}), the id of a
// persistent primary object at the SRK's handle: its serialized ESYS_TR
// starts with the handle.
func srkPrimary(out []byte) (string, bool) {
	var esys, id string
	transient := true
	found := func() bool { return strings.HasPrefix(esys, fmt.Sprintf("%08x", srkHandle)) && !transient && id != "" }
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.TrimSpace(line)
		if strings.HasPrefix(f, "- ") { // a new entry
			if found() {
				return id, true
			}
			esys, id, transient = "", "", true
			f = strings.TrimSpace(strings.TrimPrefix(f, "- "))
		}
		switch {
		case strings.HasPrefix(f, "esys-tr:"):
			esys = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(f, "esys-tr:")))
		case strings.HasPrefix(f, "transient:"):
			transient = strings.TrimSpace(strings.TrimPrefix(f, "transient:")) != "false"
		case strings.HasPrefix(f, "id:"):
			if n := strings.TrimSpace(strings.TrimPrefix(f, "id:")); n != "" && strings.Trim(n, "0123456789") == "" {
				id = n
			}
		}
	}
	return id, found()
}

// ensureDB creates the person's NSS database when missing, as NSSStore
// does.
func (k *TPMBrowserKeys) ensureDB(ctx context.Context, u LocalUser, db string) error {
	if _, err := os.Stat(filepath.Join(db, "cert9.db")); err == nil {
		return nil
	}
	if _, err := k.run(ctx, Command{Path: "mkdir", Args: []string{"-p", "-m", "0700", filepath.Dir(db), db}, User: &u}); err != nil {
		return err
	}
	_, err := k.certutil(ctx, u, "-N", "-d", "sql:"+db, "--empty-password")
	return err
}

// isTPMPlacement reports whether p's key is on a tpm2-pkcs11 token.
func isTPMPlacement(p Placement) bool {
	_, ok := placementEntry(p, entryTPMStore)
	return ok
}

func placementEntry(p Placement, prefix string) (string, bool) {
	for _, e := range p.Entries {
		if v, ok := strings.CutPrefix(e, prefix); ok {
			return v, true
		}
	}
	return "", false
}

// Remove unloads the module from the placement's NSS database, removes
// the Portier token (its key blobs and certificate: the TPM cannot load
// the key again) and the imported intermediates. A database or store that
// no longer exists is fine.
func (k *TPMBrowserKeys) Remove(ctx context.Context, p Placement) error {
	store, ok := placementEntry(p, entryTPMStore)
	if !ok {
		return nil
	}
	if m, ok := placementEntry(p, entryTPMModule); ok && k.Module == "" {
		k.Module = m
	}
	u := LocalUser{Name: p.User, UID: p.UID, GID: p.GID, Home: p.Home, AsAgent: p.AsAgent}
	var errs []error
	if _, err := os.Stat(filepath.Join(p.Path, "cert9.db")); err == nil {
		if out, err := k.modutil(ctx, u, p.Path, "-list"); err != nil {
			errs = append(errs, err)
		} else if strings.Contains(string(out), TPMModuleName) {
			if _, err := k.modutil(ctx, u, p.Path, "-delete", TPMModuleName, "-force"); err != nil {
				errs = append(errs, err)
			}
		}
		for _, ca := range p.CANicknames {
			for i := 0; i < maxSameNickname; i++ {
				if _, err := k.certutil(ctx, u, "-D", "-d", "sql:"+p.Path, "-n", ca); err != nil {
					break
				}
			}
		}
	}
	if _, err := os.Stat(filepath.Join(store, "tpm2_pkcs11.sqlite3")); err == nil {
		// tpm2_ptool says `No token labeled "portier"` when it is gone.
		if _, err := k.ptool(ctx, u, "rmtoken", "--label="+TPMTokenLabel, "--path="+store); err != nil &&
			!strings.Contains(err.Error(), "No token labeled") {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("agent: remove the TPM browser key of %s: %w", p.User, err)
	}
	return nil
}
