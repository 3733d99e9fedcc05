// Package mongotest gives tests a MongoDB wire-protocol server of their own:
// a FerretDB process started from the binary built by `make tools`, keeping
// its data in a PostgreSQL database of its own (created on the server pgtest
// uses and dropped when the test ends), or the server at MONGOTEST_URL.
package mongotest

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/supportdesk/supportdesk/pkg/pgtest"
)

// Binary returns the path of the FerretDB launcher: FERRETDB_BIN, or
// bin/ferretdb above the current folder.
func Binary() (string, error) {
	if p := os.Getenv("FERRETDB_BIN"); p != "" {
		return p, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, "bin", "ferretdb")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no bin/ferretdb found; run `make tools` or set FERRETDB_BIN")
		}
		dir = parent
	}
}

// Start returns the URI of a MongoDB-compatible server for the test. Unless
// MONGOTEST_URL is set, it starts FerretDB on a free loopback port and stops
// it when the test ends.
func Start(tb testing.TB) string {
	tb.Helper()
	if u := os.Getenv("MONGOTEST_URL"); u != "" {
		return u
	}
	srv, err := StartServer(tb, tb.TempDir(), "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("mongotest: %v", err)
	}
	tb.Cleanup(func() { _ = srv.Stop() })
	return srv.URI
}

// Server is a running FerretDB process.
type Server struct {
	URI  string
	Addr string
	Dir  string
	cmd  *exec.Cmd
}

// databaseFile, in a server's folder, holds the URL of its PostgreSQL
// database, so that a server started again on the same folder finds the
// same data.
const databaseFile = "postgresql-url"

// StartServer starts FerretDB on addr ("127.0.0.1:0" picks a free port)
// and waits until it accepts connections. Its data lives in a PostgreSQL
// database named in dir: a new one, dropped when the test ends, the first
// time dir is used, and the same one when a test starts a server on dir
// again (to stop and restart the store under a running service). Its log
// goes to dir as well.
func StartServer(tb testing.TB, dir, addr string) (*Server, error) {
	tb.Helper()
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	if strings.HasSuffix(addr, ":0") {
		addr, err = freeAddr()
		if err != nil {
			return nil, err
		}
	}
	dbURL, err := os.ReadFile(filepath.Join(dir, databaseFile))
	if errors.Is(err, os.ErrNotExist) {
		dbURL = []byte(pgtest.NewDatabase(tb))
		err = os.WriteFile(filepath.Join(dir, databaseFile), dbURL, 0o600)
	}
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-listen", addr, "-postgresql-url", string(dbURL))
	// FerretDB warns about every command it does not implement; its log
	// goes next to its data, out of the test output.
	logFile, err := os.Create(filepath.Join(dir, "ferretdb.log"))
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child keeps its own descriptor
	cmd.Stderr = logFile
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	select {
	case uri, ok := <-lines:
		if !ok {
			_ = cmd.Wait()
			return nil, fmt.Errorf("%s exited before listening on %s", bin, addr)
		}
		s := &Server{URI: uri, Addr: addr, Dir: dir, cmd: cmd}
		return s, s.waitReady()
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		return nil, fmt.Errorf("%s did not start within 30s", bin)
	}
}

func (s *Server) waitReady() error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.Addr, time.Second)
		if err == nil {
			return c.Close()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("FerretDB at %s: %w", s.Addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop ends the server gracefully and waits for it.
func (s *Server) Stop() error {
	if s.cmd.ProcessState != nil {
		return nil
	}
	_ = s.cmd.Process.Signal(os.Interrupt)
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		return <-done
	}
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// Database returns a database name unique to the test, for tests that share
// one server.
func Database(tb testing.TB) string {
	name := strings.NewReplacer("/", "_", " ", "_", "#", "_").Replace(tb.Name())
	return fmt.Sprintf("t_%s_%d", strings.ToLower(name), time.Now().UnixNano()%1e9)
}
