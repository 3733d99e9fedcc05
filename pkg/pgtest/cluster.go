package pgtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/supportdesk/supportdesk/pkg/freeport"
)

// Cluster is a PostgreSQL server of a test's own: made with initdb in a
// temporary folder and listening on a free loopback port, so that a test
// may stop and restart it without touching the machine's server.
type Cluster struct {
	Port    int
	dir     string
	bin     string              // the folder of initdb, pg_ctl and postgres
	as      *syscall.Credential // the postgres account's, when running as root
	logFile string
}

// StartCluster makes and starts a cluster, and stops and removes it when
// the test ends. PostgreSQL refuses to run as root: as root, the cluster
// belongs to the postgres account, which the server's package creates.
func StartCluster(tb testing.TB) *Cluster {
	tb.Helper()
	bin, err := serverBinaries()
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	dir, err := os.MkdirTemp("", "pgcluster-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = os.RemoveAll(dir) })
	c := &Cluster{dir: filepath.Join(dir, "data"), bin: bin, logFile: filepath.Join(dir, "server.log")}
	if os.Geteuid() == 0 {
		if c.as, err = postgresAccount(); err != nil {
			tb.Fatalf("pgtest: %v", err)
		}
		if err := os.Chown(dir, int(c.as.Uid), int(c.as.Gid)); err != nil {
			tb.Fatal(err)
		}
	}
	if c.Port, err = freeport.Get(); err != nil {
		tb.Fatal(err)
	}
	if out, err := c.run("initdb", "-D", c.dir, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync", "--no-instructions"); err != nil {
		tb.Fatalf("pgtest: initdb: %v\n%s", err, out)
	}
	tb.Cleanup(func() { _ = c.Stop() })
	if err := c.Start(); err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	return c
}

// Start starts the server and waits until it accepts connections.
func (c *Cluster) Start() error {
	opts := fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=off -c max_connections=200", c.Port)
	if out, err := c.run("pg_ctl", "-D", c.dir, "-l", c.logFile, "-o", opts, "-w", "-t", "60", "start"); err != nil {
		return fmt.Errorf("start the cluster on port %d: %v\n%s", c.Port, err, out)
	}
	return nil
}

// Stop stops the server at once, as an operator's fast shutdown does:
// open sessions are ended and open transactions rolled back.
func (c *Cluster) Stop() error {
	if out, err := c.run("pg_ctl", "-D", c.dir, "-m", "fast", "-w", "stop"); err != nil {
		return fmt.Errorf("stop the cluster: %v\n%s", err, out)
	}
	return nil
}

// URL is the URL of database name on the cluster.
func (c *Cluster) URL(name string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.Port, name)
}

// NewDatabase creates an empty database on the cluster and returns its URL.
func (c *Cluster) NewDatabase(tb testing.TB, name string) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		tb.Fatalf("pgtest: connect to the cluster: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		tb.Fatalf("pgtest: create database %s: %v", name, err)
	}
	return c.URL(name)
}

// run runs one of the server's programs, as the postgres account when set.
func (c *Cluster) run(program string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(c.bin, program), args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if c.as != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.as}
		cmd.Dir = os.TempDir() // a folder the account may enter
	}
	return cmd.CombinedOutput()
}

// serverBinaries finds the newest PostgreSQL server installed the Debian
// way, or else initdb on PATH.
func serverBinaries() (string, error) {
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	sort.Slice(found, func(i, j int) bool { return versionOf(found[i]) < versionOf(found[j]) })
	if len(found) > 0 {
		return filepath.Dir(found[len(found)-1]), nil
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", fmt.Errorf("no PostgreSQL server programs (initdb) found; `make test-deps` installs them")
}

// versionOf reads the major version in /usr/lib/postgresql/<version>/bin/initdb.
func versionOf(path string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(path))))
	return v
}

func postgresAccount() (*syscall.Credential, error) {
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, a cluster needs the postgres account: %w", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("the postgres account has ids %s:%s", u.Uid, u.Gid)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}
