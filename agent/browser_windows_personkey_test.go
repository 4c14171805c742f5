package agent

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/agentwire"
	"github.com/portier/portier/ca"
	"github.com/portier/portier/store"
)

// Two people of the test machine.
var (
	personBea = LocalUser{Name: `DESKTOP-7QK2M4R\bea`, SID: "S-1-5-21-3623811015-3361044348-30300820-1001", Home: `C:\Users\bea`}
	personDan = LocalUser{Name: `DESKTOP-7QK2M4R\dan`, SID: "S-1-5-21-3623811015-3361044348-30300820-1002", Home: `C:\Users\dan`}
)

// windowsService enrolls an agent with the test server and opens it as
// the Windows service would be: its browser store is every person's task.
func windowsService(t *testing.T, s *browserCertServer, hw string) (*Agent, *fakeService, *BrowserOptions, string, string) {
	t.Helper()
	a, dir := enrolled(t, s.server, store.OwnershipCorporate, &fakeRunner{}, &fakeCollect{}, nil)
	a.Close()
	svc := &fakeService{}
	root := t.TempDir()
	bo := &BrowserOptions{Stores: []BrowserStore{&WindowsUserTaskStore{Run: svc.run, Exe: `C:\Program Files\Portier\portier.exe`, Root: root}},
		Users: func() ([]LocalUser, error) { return []LocalUser{personBea, personDan}, nil }}
	a, err := Open(Options{StateDir: dir, Version: "test", Platform: PlatformWindows, Runner: &fakeRunner{}, Collect: (&fakeCollect{}).collect, Browser: bo})
	must(t, err)
	t.Cleanup(a.Close)
	a.st.KeyHardware = hw
	t.Setenv("HOME", t.TempDir()) // the person's task runs as a person
	return a, svc, bo, dir, root
}

// TestPersonKeyExchange: the whole exchange for a person with a TPM and
// a person on whose session the TPM cannot make the key: the task makes
// the key and its CSR, the service gets the certificate from the server
// (the person named being the directory's SID), the task installs it on
// its key, status says where it is; renewal replaces it after the new one
// is in; removal takes certificate, key and intermediate away.
func TestPersonKeyExchange(t *testing.T) {
	s := newBrowserCertServer(t)
	a, svc, bo, stateDir, root := windowsService(t, s, "TPM (ready)")
	ctx := context.Background()
	must(t, a.Once(ctx))
	if len(s.requests()) != 0 {
		t.Fatal("a certificate was asked for before any person's key existed")
	}
	beaDir, danDir := filepath.Join(root, personBea.SID), filepath.Join(root, personDan.SID)
	bea, dan := newFakePerson(t, true), newFakePerson(t, false)
	now := time.Now()

	// The persons' tasks make their keys.
	res, err := ImportForUser(ctx, beaDir, bea.run, now)
	if err != nil || !res.Pending || res.Imported != "" {
		t.Fatalf("bea's first run = %+v, %v", res, err)
	}
	wantINF := "[Version]\r\nSignature=\"$Windows NT$\"\r\n\r\n[NewRequest]\r\n" +
		"Subject = \"CN=" + a.DeviceID() + "\"\r\n" +
		"FriendlyName = \"Portier device " + a.DeviceID() + "\"\r\n" +
		"KeyAlgorithm = ECDSA_P256\r\nKeyLength = 256\r\n" +
		"ProviderName = \"Microsoft Platform Crypto Provider\"\r\n" +
		"Exportable = FALSE\r\nMachineKeySet = FALSE\r\nRequestType = PKCS10\r\nHashAlgorithm = sha256\r\n" +
		"KeyUsage = 0x80\r\nKeyUsageProperty = 2\r\nSuppressDefaults = TRUE\r\nSilent = TRUE\r\n"
	inf, csr := filepath.Join(beaDir, userINFFile), filepath.Join(beaDir, userCSRFile)
	if _, err := os.Stat(csr); err != nil {
		t.Fatalf("no CSR for the service: %v", err)
	}
	if !slices.Equal(bea.cmds, []string{"certreq.exe -new -user -q " + inf + " " + csr + ".new"}) || !slices.Equal(bea.infs, []string{wantINF}) {
		t.Fatalf("bea's commands %q, INF:\n%s", bea.cmds, bea.infs)
	}
	if _, err := os.Stat(inf); !os.IsNotExist(err) {
		t.Errorf("the INF file stays: %v", err)
	}
	res, err = ImportForUser(ctx, danDir, dan.run, now)
	if err != nil || !res.Pending {
		t.Fatalf("dan's first run = %+v, %v", res, err)
	}
	if len(dan.infs) != 2 || !strings.Contains(dan.infs[0], `ProviderName = "Microsoft Platform Crypto Provider"`) ||
		dan.infs[1] != strings.ReplaceAll(wantINF, "Microsoft Platform Crypto Provider", "Microsoft Software Key Storage Provider") {
		t.Fatalf("dan's INFs (TPM not ready, then software):\n%s", dan.infs)
	}
	st, err := ReadStatus(stateDir, now)
	must(t, err)
	if len(st.UserImports) != 2 || st.UserImports[0].Waiting != "certificate" || st.UserImports[1].Waiting != "certificate" {
		t.Fatalf("status while the CSRs wait = %+v", st.UserImports)
	}

	// The service has them signed and starts the tasks.
	a.serveBrowserRequests(ctx)
	reqs := s.requests()
	// Bea's key is in the TPM, but the service cannot verify what her
	// task made: it never vouches for a person's key.
	if len(reqs) != 2 || reqs[0].Person != personBea.SID || reqs[0].KeyProtection != agentwire.KeySoftware ||
		reqs[1].Person != personDan.SID || reqs[1].KeyProtection != agentwire.KeySoftware {
		t.Fatalf("requests to the server = %+v", reqs)
	}
	if svc.started(personBea.SID) != 2 || svc.started(personDan.SID) != 2 { // at Install, and now
		t.Errorf("tasks started: bea %d, dan %d", svc.started(personBea.SID), svc.started(personDan.SID))
	}
	a.serveBrowserRequests(ctx)
	if len(s.requests()) != 2 {
		t.Fatal("a CSR was sent twice")
	}

	// The tasks install the certificates on their keys.
	bea.cmds = nil
	res, err = ImportForUser(ctx, beaDir, bea.run, now)
	if err != nil || res.Imported == "" || res.Provider != ProviderPlatform || res.KeyProtection != agentwire.KeyHardware || res.Pending {
		t.Fatalf("bea's install = %+v, %v", res, err)
	}
	beaThumb := res.Imported
	leaf := checkIssuedFor(t, bea, beaThumb, personBea.SID, agentwire.KeySoftware) // in the TPM, recorded as software: the person's word
	caThumbs := res.Installed[0].CAThumbprints
	if len(caThumbs) != 1 || !bea.ca[caThumbs[0]] {
		t.Fatalf("intermediate %v not in CurrentUser\\CA %v", caThumbs, bea.ca)
	}
	wantCmds := []string{
		"certreq.exe -accept -user -q " + filepath.Join(beaDir, userLeafFile),
		"certutil.exe -user -addstore CA " + filepath.Join(beaDir, userCAFilePre+"1.cer"),
		"powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -Command " + personCertCheck(beaThumb),
	}
	if !slices.Equal(bea.cmds, wantCmds) {
		t.Fatalf("bea's install commands:\n%s\nwant:\n%s", strings.Join(bea.cmds, "\n"), strings.Join(wantCmds, "\n"))
	}
	if personCertCheck(beaThumb) != "$ErrorActionPreference='Stop'; $c = Get-Item -LiteralPath 'Cert:\\CurrentUser\\My\\"+beaThumb+"'; "+
		"$k = [System.Security.Cryptography.X509Certificates.ECDsaCertificateExtensions]::GetECDsaPrivateKey($c); "+
		"'{0}|{1}|{2}' -f $c.HasPrivateKey, $k.Key.Provider.Provider, $k.Key.ExportPolicy" {
		t.Errorf("check script = %s", personCertCheck(beaThumb))
	}
	left, _ := os.ReadDir(beaDir)
	var names []string
	for _, e := range left {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{userDoneFile, userRequestFile}) {
		t.Errorf("files left in bea's directory: %v", names)
	}
	res, err = ImportForUser(ctx, danDir, dan.run, now)
	if err != nil || res.Provider != ProviderSoftware || res.KeyProtection != agentwire.KeySoftware || !strings.Contains(res.PlatformError, "TPM_E_PCP_DEVICE_NOT_READY") {
		t.Fatalf("dan's install = %+v, %v", res, err)
	}
	checkIssuedFor(t, dan, res.Imported, personDan.SID, agentwire.KeySoftware)

	st, err = ReadStatus(stateDir, now)
	must(t, err)
	if u := st.UserImports; len(u) != 2 || !u[0].Imported || u[0].Thumbprint != beaThumb || u[0].Store != `Cert:\CurrentUser\My` ||
		u[0].Provider != ProviderPlatform || u[0].KeyProtection != "hardware" || u[0].Waiting != "" || !u[0].RenewAfter.After(now) ||
		!u[1].Imported || u[1].Provider != ProviderSoftware || u[1].KeyProtection != "software" || u[1].PlatformError == "" {
		t.Fatalf("status after the install = %+v", st.UserImports)
	}

	// A renewal of the device certificate keeps the people's keys.
	must(t, a.Renew(ctx))
	if _, err := os.Stat(filepath.Join(beaDir, userRemoveFile)); !os.IsNotExist(err) {
		t.Fatalf("the device certificate's renewal ordered the person's key removed: %v", err)
	}
	rec, err := loadBrowserRecord(stateDir)
	must(t, err)
	if len(rec.Placements) != 2 || len(rec.Errors) != 0 {
		t.Fatalf("browser.json after the renewal = %+v", rec)
	}

	// Keeps: a person no longer of the machine, or a request for another
	// device, is not kept.
	ts := bo.Stores[0].(*WindowsUserTaskStore)
	id, err := a.identity(context.Background())
	must(t, err)
	id.Users = []LocalUser{personBea}
	if !ts.Keeps(rec.Placements[0], id) || ts.Keeps(rec.Placements[1], id) {
		t.Error("Keeps: bea's placement not kept, or dan's kept without dan")
	}
	id.DeviceID = "dev_other"
	if ts.Keeps(rec.Placements[0], id) {
		t.Error("Keeps: a placement kept for another device")
	}

	// A run before the renew point does nothing; after it, a new key.
	bea.cmds = nil
	if res, err = ImportForUser(ctx, beaDir, bea.run, now); err != nil || len(bea.cmds) != 0 || res.Imported != beaThumb {
		t.Fatalf("a run with a current certificate = %+v, %v, commands %q", res, err, bea.cmds)
	}
	later := leaf.NotBefore.Add(leaf.NotAfter.Sub(leaf.NotBefore)*2/3 + time.Minute)

	// The service starts the task of a person whose renewal is due, once
	// an hour at most, and not before it is due.
	before := svc.started(personBea.SID)
	at := now
	ex := PersonKeyExchange{Issue: a.issueBrowserCertificate, DeviceID: a.DeviceID(), Now: func() time.Time { return at }}
	must(t, ts.ServeRequests(ctx, rec.Placements, ex))
	at = later
	must(t, ts.ServeRequests(ctx, rec.Placements, ex))
	at = later.Add(59 * time.Minute)
	must(t, ts.ServeRequests(ctx, rec.Placements, ex))
	if got := svc.started(personBea.SID); got != before+1 {
		t.Fatalf("renewal kicks: %d, want 1", got-before)
	}
	at = later.Add(time.Hour)
	must(t, ts.ServeRequests(ctx, rec.Placements, ex))
	if got := svc.started(personBea.SID); got != before+2 {
		t.Fatalf("renewal kicks after an hour: %d, want 2", got-before)
	}
	if res, err = ImportForUser(ctx, beaDir, bea.run, later); err != nil || !res.Pending || res.Imported != beaThumb {
		t.Fatalf("renewal's first run = %+v, %v", res, err)
	}
	a.serveBrowserRequests(ctx)
	res, err = ImportForUser(ctx, beaDir, bea.run, later)
	if err != nil || res.Imported == beaThumb || !slices.Equal(res.Removed, []string{beaThumb}) || len(res.Installed) != 1 {
		t.Fatalf("renewal's install = %+v, %v", res, err)
	}
	if _, ok := bea.my[beaThumb]; ok || len(bea.my) != 1 || !bea.ca[caThumbs[0]] {
		t.Fatalf("after renewal: store %v, CA %v", bea.my, bea.ca)
	}

	// Unenroll: the request is withdrawn, the task removes what it
	// installed, with its key and the intermediate.
	removed, err := RemoveBrowserIdentity(ctx, stateDir, *bo)
	must(t, err)
	if len(removed) != 2 {
		t.Fatalf("removed %+v", removed)
	}
	res, err = ImportForUser(ctx, beaDir, bea.run, later)
	if err != nil || len(bea.my) != 0 || len(bea.ca) != 0 || res.Imported != "" || len(res.Installed) != 0 || res.Pending {
		t.Fatalf("bea after removal = %+v, %v; store %v, CA %v", res, err, bea.my, bea.ca)
	}
	if _, err := os.Stat(filepath.Join(beaDir, userRemoveFile)); !os.IsNotExist(err) {
		t.Errorf("the carried-out order is still there: %v", err)
	}
	if _, err := ImportForUser(ctx, danDir, dan.run, later); err != nil || len(dan.my) != 0 {
		t.Fatalf("dan after removal: %v, store %v", err, dan.my)
	}
}

// checkIssuedFor checks the certificate in the fake store is the real
// CA's, for the person's own key, and says what was decided for it.
func checkIssuedFor(t *testing.T, w *fakePersonWindows, thumb, person, protection string) *x509.Certificate {
	t.Helper()
	k, ok := w.my[thumb]
	if !ok || k.exportable {
		t.Fatalf("certificate %s not in the store, or exportable: %v", thumb, w.my)
	}
	leaf := w.lastLeaf(t, thumb)
	info := ca.KeyInfoFromCert(leaf)
	if info.Purpose != ca.PurposeBrowser || info.Person != person || info.Protection != protection || info.Source != store.KeySourceAgent {
		t.Errorf("key info of %s = %+v", thumb, info)
	}
	if !k.key.PublicKey.Equal(leaf.PublicKey) {
		t.Error("the certificate is not for the person's key")
	}
	return leaf
}

// lastLeaf finds the certificate with thumb among the files certreq
// -accept read.
func (w *fakePersonWindows) lastLeaf(t *testing.T, thumb string) *x509.Certificate {
	t.Helper()
	for _, c := range w.accepted {
		if Thumbprint(c) == thumb {
			return c
		}
	}
	t.Fatalf("no certificate %s was accepted", thumb)
	return nil
}

// TestPersonKeySmuggling: what a person can write into their directory
// cannot make the service ask for another device's or another person's
// certificate, nor write elsewhere.
func TestPersonKeySmuggling(t *testing.T) {
	s := newBrowserCertServer(t)
	a, _, _, _, root := windowsService(t, s, "") // no TPM found by the service
	ctx := context.Background()
	must(t, a.Once(ctx))
	beaDir, danDir := filepath.Join(root, personBea.SID), filepath.Join(root, personDan.SID)
	bea, dan := newFakePerson(t, true), newFakePerson(t, true)
	now := time.Now()
	_, err := ImportForUser(ctx, beaDir, bea.run, now)
	must(t, err)
	_, err = ImportForUser(ctx, danDir, dan.run, now)
	must(t, err)

	// bea's task says "TPM", but the service found none: software.
	a.serveBrowserRequests(ctx)
	reqs := s.requests()
	if len(reqs) != 2 || reqs[0].KeyProtection != agentwire.KeySoftware || reqs[1].KeyProtection != agentwire.KeySoftware {
		t.Fatalf("requests = %+v", reqs)
	}
	// The person named is the directory's SID, whatever the files say.
	if reqs[0].Person != personBea.SID || reqs[1].Person != personDan.SID {
		t.Fatalf("persons = %q, %q", reqs[0].Person, reqs[1].Person)
	}

	// A CSR naming another device is refused before the server is asked,
	// and dropped; status says why.
	other := newFakePerson(t, false)
	must(t, os.WriteFile(filepath.Join(beaDir, userRequestFile), []byte(`{"device_id":"dev_another"}`), 0o600))
	clearPersonFiles(beaDir, userIssuedFile, userDoneFile, userCSRFile, userKeyFile)
	_, err = ImportForUser(ctx, beaDir, other.run, now)
	must(t, err)
	a.serveBrowserRequests(ctx) // request.json still names the other device
	if len(s.requests()) != 2 {
		t.Fatal("a CSR for another device went to the server")
	}
	if _, err := os.Stat(filepath.Join(beaDir, userCSRFile)); !os.IsNotExist(err) {
		t.Error("the refused CSR stays")
	}
	b, err := os.ReadFile(filepath.Join(beaDir, userServiceFile))
	if err != nil || !strings.Contains(string(b), `names \"dev_another\"`) {
		t.Errorf("service.json = %s, %v", b, err)
	}

	// A link in place of the CSR (to another person's file) is not read;
	// dan's own CSR is sent for dan.
	clearPersonFiles(danDir, userIssuedFile)
	must(t, os.Symlink(filepath.Join(danDir, userCSRFile), filepath.Join(beaDir, userCSRFile)))
	a.serveBrowserRequests(ctx)
	if got := s.requests(); len(got) != 3 || got[2].Person != personDan.SID {
		t.Fatalf("requests after the link = %+v", got)
	}

	// A tampered record cannot point the service at another directory.
	st := &WindowsUserTaskStore{Run: (&fakeService{}).run, Root: root}
	ex := PersonKeyExchange{Issue: a.issueBrowserCertificate, DeviceID: a.DeviceID(), Now: time.Now}
	for _, p := range []Placement{
		{Store: StoreWindowsUserTask, User: "bea", SID: personBea.SID, Path: danDir},
		{Store: StoreWindowsUserTask, User: "x", SID: personBea.SID, Path: filepath.Join(root, personBea.SID, "..", personDan.SID)},
	} {
		if err := st.ServeRequests(ctx, []Placement{p}, ex); err == nil {
			t.Errorf("the placement %+v was served", p)
		}
	}
	if len(s.requests()) != 3 {
		t.Fatal("a tampered placement reached the server")
	}

	// dan puts a link to bea's directory in place of his own: the
	// service neither serves nor writes there, and Install refuses it.
	must(t, os.Rename(danDir, danDir+".old"))
	must(t, os.Symlink(beaDir, danDir))
	must(t, os.WriteFile(filepath.Join(beaDir, userRequestFile), []byte(`{"device_id":"`+a.DeviceID()+`"}`), 0o600))
	clearPersonFiles(beaDir, userCSRFile, userKeyFile, userServiceFile)
	_, err = ImportForUser(ctx, beaDir, bea.run, now) // bea's own new CSR waits
	must(t, err)
	if _, err := os.Stat(filepath.Join(beaDir, userCSRFile)); err != nil {
		t.Fatal(err)
	}
	danP := Placement{Store: StoreWindowsUserTask, User: "dan", SID: personDan.SID, Path: danDir}
	if err := st.ServeRequests(ctx, []Placement{danP}, ex); err == nil {
		t.Error("a linked directory was served")
	}
	id, err := a.identity(context.Background())
	must(t, err)
	id.Users = []LocalUser{personDan}
	if _, err := st.Install(ctx, id); err == nil || !strings.Contains(err.Error(), "is a link") {
		t.Errorf("Install into a linked directory: %v", err)
	}
	if len(s.requests()) != 3 {
		t.Fatal("bea's CSR was sent through dan's link")
	}
}

// TestPersonKeyServerAnswers: a refused CSR is dropped (the task makes a
// new key); a server without browser certificates (404) gets the
// device's own identity handed over as a PFX, which the task imports and
// deletes; an exportable key is not kept.
func TestPersonKeyServerAnswers(t *testing.T) {
	s := newBrowserCertServer(t)
	a, svc, _, stateDir, root := windowsService(t, s, "TPM (ready)")
	ctx := context.Background()
	must(t, a.Once(ctx))
	beaDir := filepath.Join(root, personBea.SID)
	bea := newFakePerson(t, true)
	now := time.Now()
	_, err := ImportForUser(ctx, beaDir, bea.run, now)
	must(t, err)

	s.refuse = 400
	a.serveBrowserRequests(ctx)
	if _, err := os.Stat(filepath.Join(beaDir, userCSRFile)); !os.IsNotExist(err) {
		t.Error("a refused CSR stays")
	}
	st, err := ReadStatus(stateDir, now)
	must(t, err)
	if u := st.UserImports[0]; u.Waiting != "logon" || len(u.Errors) != 1 || !strings.Contains(u.Errors[0], "service: server answered 400: refused by the test") {
		t.Errorf("status after a refusal = %+v", u)
	}

	// 503: kept and retried.
	_, err = ImportForUser(ctx, beaDir, bea.run, now)
	must(t, err)
	s.refuse = 503
	a.serveBrowserRequests(ctx)
	if _, err := os.Stat(filepath.Join(beaDir, userCSRFile)); err != nil {
		t.Errorf("a CSR the server could not answer is dropped: %v", err)
	}

	// An exportable key (a provider that ignored the INF) is removed.
	s.refuse = 0
	a.serveBrowserRequests(ctx)
	bea.exportable = true
	res, err := ImportForUser(ctx, beaDir, bea.run, now)
	if err == nil || !strings.Contains(err.Error(), "can be exported (AllowExport): removed") || len(bea.my) != 0 || res.Imported != "" {
		t.Fatalf("exportable key: %+v, %v, store %v", res, err, bea.my)
	}

	// The pending key lost (certreq -accept finds no request): dropped, a
	// new key at the next run.
	_, err = ImportForUser(ctx, beaDir, bea.run, now)
	must(t, err)
	a.serveBrowserRequests(ctx)
	clear(bea.pending)
	if _, err := ImportForUser(ctx, beaDir, bea.run, now); err == nil || !strings.Contains(err.Error(), "CRYPT_E_NOT_FOUND") {
		t.Fatalf("accept without its key: %v", err)
	}
	if res, err := ImportForUser(ctx, beaDir, bea.run, now); err != nil || !res.Pending {
		t.Fatalf("the run after a lost key = %+v, %v", res, err)
	}
	clearPersonFiles(beaDir, userCSRFile, userKeyFile)

	// 404: the fallback.
	_, err = ImportForUser(ctx, beaDir, bea.run, now)
	must(t, err)
	s.refuse = 404
	before := svc.started(personBea.SID)
	a.serveBrowserRequests(ctx)
	for _, f := range []string{userRequestFile, userCSRFile, userKeyFile} {
		if _, err := os.Stat(filepath.Join(beaDir, f)); !os.IsNotExist(err) {
			t.Errorf("%s stays after the fallback: %v", f, err)
		}
	}
	if _, err := os.Stat(filepath.Join(beaDir, userPFXFile)); err != nil || svc.started(personBea.SID) != before+1 {
		t.Fatalf("no PFX handed over (%v), or the task not started", err)
	}
	st, err = ReadStatus(stateDir, now)
	must(t, err)
	if u := st.UserImports[0]; u.Waiting != "import" || u.Imported {
		t.Errorf("status while the PFX waits = %+v", u)
	}
	win := &fakeWindows{certs: map[string]bool{}}
	res, err = ImportForUser(ctx, beaDir, win.run, now)
	id, _ := a.identity(context.Background())
	if err != nil || res.Imported != Thumbprint(id.Leaf) || !win.certs[res.Imported] || res.KeyProtection != "software" {
		t.Fatalf("fallback import = %+v, %v", res, err)
	}
	for _, f := range []string{userPFXFile, userPasswordFile} {
		if _, err := os.Stat(filepath.Join(beaDir, f)); !os.IsNotExist(err) {
			t.Errorf("%s left after the import: %v", f, err)
		}
	}
	st, err = ReadStatus(stateDir, now)
	must(t, err)
	if u := st.UserImports[0]; !u.Imported || u.Thumbprint != res.Imported {
		t.Errorf("status after the fallback = %+v", u)
	}
}

// TestParsePersonCSR: what the service accepts from a person's directory.
func TestParsePersonCSR(t *testing.T) {
	w := newFakePerson(t, false)
	dir := t.TempDir()
	inf := filepath.Join(dir, "x.inf")
	for _, cn := range []string{"dev_1", "dev_2"} {
		must(t, os.WriteFile(inf, []byte(personINF(cn, ProviderSoftware)), 0o600))
		_, err := w.run(context.Background(), certreq("-new", "-user", "-q", inf, filepath.Join(dir, cn+".csr")))
		must(t, err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "dev_1.csr"))
	if _, err := parsePersonCSR(b, "dev_1"); err != nil {
		t.Fatalf("certreq's own CSR refused: %v", err)
	}
	if _, err := parsePersonCSR(b, "dev_2"); err == nil {
		t.Error("a CSR for another device accepted")
	}
	blk, _ := pem.Decode(b)
	blk.Bytes[len(blk.Bytes)-3] ^= 0xff
	if _, err := parsePersonCSR(pem.EncodeToMemory(blk), "dev_1"); err == nil {
		t.Error("a CSR with a broken signature accepted")
	}
	if _, err := parsePersonCSR([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), "dev_1"); err == nil {
		t.Error("a certificate accepted as a CSR")
	}
}

// FuzzParsePersonCSR: the person's file is untrusted input.
func FuzzParsePersonCSR(f *testing.F) {
	f.Add([]byte("-----BEGIN NEW CERTIFICATE REQUEST-----\nMIIB\n-----END NEW CERTIFICATE REQUEST-----\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		if csr, err := parsePersonCSR(in, "dev_1"); err == nil && csr.CheckSignature() != nil {
			t.Fatal("accepted a CSR whose signature does not verify")
		}
	})
}
