package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/portier/portier/config"
	"github.com/portier/portier/store"
	"github.com/portier/portier/store/backup"
)

// BackupSocketName is the running server's backup socket in the data dir.
//
// The embedded store's file is locked by the running server, so `portier
// backup` asks the server instead: it connects to this unix socket and the
// server streams a backup from one bbolt read transaction. The socket is
// mode 0600 in the 0700 data dir: who may open it is who may read the data
// dir's files anyway, as with docker.sock. The protocol is one request line
// and an answer line, "OK" followed by the backup file, or "ERR message".
const BackupSocketName = "backup.sock"

const (
	backupRequest = "portier-backup 1\n"
	// backupIdle bounds how long a stalled client may keep the snapshot
	// (and its read transaction) open.
	backupIdle = time.Minute
)

// errNoServer means no server listens on the backup socket.
var errNoServer = errors.New("no server on the backup socket")

// backupSocket serves backups of the embedded store on a unix socket.
type backupSocket struct {
	ln      *net.UnixListener
	path    string
	snap    store.Snapshotter
	st      *store.Store
	dataDir string
	clock   func() time.Time
	log     *slog.Logger
	busy    chan struct{} // one backup at a time

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// listenBackupSocket binds the backup socket of an embedded store. It
// binds in a fresh 0700 directory, sets the mode, then renames the socket
// into place, so it is never reachable with a wider mode. A socket left by
// a server that died is replaced: this process holds the store's lock, so
// no other server uses this data dir.
func listenBackupSocket(dataDir string, snap store.Snapshotter, st *store.Store, clock func() time.Time, log *slog.Logger) (*backupSocket, error) {
	tmp, err := os.MkdirTemp(dataDir, ".backup-sock-")
	if err != nil {
		return nil, fmt.Errorf("backup socket: %w", err)
	}
	defer os.RemoveAll(tmp)
	tmpPath := filepath.Join(tmp, "s")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmpPath, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("backup socket: %w", err)
	}
	ln.SetUnlinkOnClose(false)
	path := filepath.Join(dataDir, BackupSocketName)
	err = os.Chmod(tmpPath, 0o600)
	if err == nil {
		err = os.Rename(tmpPath, path)
	}
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("backup socket: %w", err)
	}
	return &backupSocket{ln: ln, path: path, snap: snap, st: st, dataDir: dataDir, clock: clock, log: log,
		busy: make(chan struct{}, 1), conns: map[net.Conn]struct{}{}}, nil
}

// serve accepts connections until close. A nil socket serves nothing.
func (b *backupSocket) serve() {
	if b == nil {
		return
	}
	for {
		conn, err := b.ln.AcceptUnix()
		if err != nil {
			return // closed
		}
		b.mu.Lock()
		b.conns[conn] = struct{}{}
		b.wg.Add(1)
		b.mu.Unlock()
		go func() {
			defer b.wg.Done()
			b.handle(conn)
			b.mu.Lock()
			delete(b.conns, conn)
			b.mu.Unlock()
		}()
	}
}

// close stops listening, ends running backups and removes the socket.
func (b *backupSocket) close() {
	if b == nil {
		return
	}
	b.ln.Close()
	b.mu.Lock()
	for c := range b.conns {
		c.Close()
	}
	b.mu.Unlock()
	b.wg.Wait()
	os.Remove(b.path)
}

func (b *backupSocket) handle(conn *net.UnixConn) {
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	req, err := bufio.NewReader(io.LimitReader(conn, 256)).ReadString('\n')
	if err != nil || req != backupRequest {
		fmt.Fprintf(conn, "ERR unknown request %q\n", strings.TrimSpace(req))
		return
	}
	select {
	case b.busy <- struct{}{}:
		defer func() { <-b.busy }()
	default:
		fmt.Fprint(conn, "ERR another backup is running\n")
		return
	}
	uid := peerUID(conn)
	actor := "local:uid=" + uid
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	// The audit event is written before any data leaves: no audit, no backup.
	ev := store.NewAuditEvent(b.clock(), actor, "backup.create", "")
	ev.Detail = map[string]string{"via": BackupSocketName, "uid": uid}
	err = b.st.Write(ctx, store.Put(ev))
	cancel()
	if err != nil {
		b.log.Error("backup refused: cannot write its audit event", "err", err)
		fmt.Fprint(conn, "ERR cannot record the backup in the audit log: the store is unavailable\n")
		return
	}
	b.log.Info("backup started", "actor", actor)
	if _, err := io.WriteString(conn, "OK\n"); err != nil {
		return
	}
	dw := &deadlineWriter{conn: conn}
	sum, err := writeBackup(context.Background(), dw, b.snap, backup.BackendBolt, b.dataDir, b.clock())
	if err != nil {
		// Closing the connection cuts the file short: the client reports it.
		b.log.Error("backup failed", "actor", actor, "err", err)
		return
	}
	b.log.Info("backup streamed", "actor", actor, "records", sum.Records, "files", sum.Files, "bytes", sum.Bytes, "sha256", sum.SHA256)
}

// deadlineWriter gives every write backupIdle to complete.
type deadlineWriter struct{ conn net.Conn }

func (d *deadlineWriter) Write(p []byte) (int, error) {
	if err := d.conn.SetWriteDeadline(time.Now().Add(backupIdle)); err != nil {
		return 0, err
	}
	return d.conn.Write(p)
}

// backupFromSocket asks the server on the socket at path for a backup and
// copies it to w. It returns errNoServer when nothing listens there.
func backupFromSocket(ctx context.Context, path string, w io.Writer) error {
	d := net.Dialer{Timeout: 5 * time.Second}
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		if isNoServer(err) {
			return errNoServer
		}
		return fmt.Errorf("backup: cannot connect to the running server's backup socket %s: %w "+
			"(run the backup as the user that runs portier serve)", path, err)
	}
	conn := c.(*net.UnixConn)
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if _, err := io.WriteString(conn, backupRequest); err != nil {
		return fmt.Errorf("backup: %s: %w", path, err)
	}
	r := bufio.NewReader(&deadlineReader{conn: conn})
	status, err := r.ReadSlice('\n')
	if err != nil {
		return fmt.Errorf("backup: the server on %s did not answer: %w", path, err)
	}
	if msg, ok := strings.CutPrefix(string(status), "ERR "); ok {
		return fmt.Errorf("backup: the running server refused: %s", strings.TrimSpace(msg))
	}
	if string(status) != "OK\n" {
		return fmt.Errorf("backup: unexpected answer from %s: %q", path, status)
	}
	if _, err := io.Copy(w, r); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return ctx.Err()
}

// deadlineReader gives every read backupIdle to complete.
type deadlineReader struct{ conn net.Conn }

func (d *deadlineReader) Read(p []byte) (int, error) {
	if err := d.conn.SetReadDeadline(time.Now().Add(backupIdle)); err != nil {
		return 0, err
	}
	return d.conn.Read(p)
}

// isNoServer reports whether dialling the socket failed because no server
// is there: no socket file, or one left behind by a server that died.
func isNoServer(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED)
}

// startBackupSocket opens the backup socket for an embedded store. Without
// it the server runs on, and `portier backup` needs the server stopped, so
// a failure is logged rather than fatal.
func startBackupSocket(cfg *config.Config, be store.Backend, st *store.Store, clock func() time.Time, log *slog.Logger) *backupSocket {
	snap, ok := be.(store.Snapshotter)
	if cfg.Store != "" || !ok {
		return nil
	}
	b, err := listenBackupSocket(cfg.DataDir, snap, st, clock, log)
	if err != nil {
		log.Warn("online backups are unavailable: `portier backup` needs this server stopped", "err", err)
		return nil
	}
	return b
}
